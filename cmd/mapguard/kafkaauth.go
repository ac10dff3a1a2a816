package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/mapguard/mapguard/rollout"
)

// passwordEnv and userEnv are the environment variables the Kafka SASL
// password and user come from. The password has no flag: a flag's value
// shows in ps to every user of the machine.
const (
	passwordEnv = "MAPGUARD_KAFKA_PASSWORD"
	userEnv     = "MAPGUARD_KAFKA_USER"
)

// kafkaAuthUsage is the rollout usage's paragraph on the security flags.
const kafkaAuthUsage = `Kafka security (analyze, aggregate, report): -tls [-tls-ca ca.pem]
[-tls-cert c.pem -tls-key c.key] [-tls-server-name n] for TLS;
-sasl PLAIN|SCRAM-SHA-256|SCRAM-SHA-512 -sasl-user u for SASL, the user
also from $` + userEnv + `, the password from $` + passwordEnv + ` or
-sasl-password-file f (never a flag).
`

// kafkaAuthFlags defines the flags that secure Kafka connections on fs,
// and returns the function that, once fs is parsed, builds the
// rollout.KafkaAuth they say, reading the password from the environment
// or a file. Flag combinations that cannot work are usage errors; TLS
// files that cannot be read are errors.
func kafkaAuthFlags(fs *flag.FlagSet) func() (rollout.KafkaAuth, error) {
	useTLS := fs.Bool("tls", false, "connect to Kafka with TLS (implied by the other -tls flags); trusts the system's roots unless -tls-ca")
	ca := fs.String("tls-ca", "", "PEM file of the CA certificates that sign the brokers' certificates")
	cert := fs.String("tls-cert", "", "PEM client certificate, for brokers that require one (with -tls-key)")
	key := fs.String("tls-key", "", "PEM key of -tls-cert")
	serverName := fs.String("tls-server-name", "", "name the brokers' certificates must carry (default: each broker's host)")
	mech := fs.String("sasl", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (password from $"+passwordEnv+" or -sasl-password-file)")
	user := fs.String("sasl-user", "", "SASL user (default $"+userEnv+")")
	passwordFile := fs.String("sasl-password-file", "", "file holding the SASL password (default: $"+passwordEnv+")")
	return func() (rollout.KafkaAuth, error) {
		var auth rollout.KafkaAuth
		if *useTLS || *ca != "" || *cert != "" || *key != "" || *serverName != "" {
			auth.TLS = &rollout.KafkaTLS{CAFile: *ca, CertFile: *cert, KeyFile: *key, ServerName: *serverName}
			if (*cert == "") != (*key == "") {
				return auth, usagef("-tls-cert and -tls-key go together")
			}
		}
		if *mech == "" {
			if *user != "" || *passwordFile != "" {
				return auth, usagef("-sasl-user and -sasl-password-file need -sasl")
			}
		} else {
			s := &rollout.KafkaSASL{Mechanism: *mech, User: *user}
			if s.User == "" {
				s.User = os.Getenv(userEnv)
			}
			if s.User == "" {
				return auth, usagef("-sasl needs a user: -sasl-user or $%s", userEnv)
			}
			env, fromEnv := os.LookupEnv(passwordEnv)
			switch {
			case *passwordFile != "" && fromEnv:
				return auth, usagef("the SASL password comes from $%s or -sasl-password-file, not both", passwordEnv)
			case *passwordFile != "":
				b, err := os.ReadFile(*passwordFile)
				if err != nil {
					return auth, fmt.Errorf("rollout: reading the SASL password file: %w", err)
				}
				s.Password = strings.TrimRight(string(b), "\r\n")
				if s.Password == "" {
					return auth, fmt.Errorf("rollout: the SASL password file %s is empty", *passwordFile)
				}
			case env != "":
				s.Password = env
			default:
				return auth, usagef("-sasl needs a password: set $%s or give -sasl-password-file (a flag would show in ps)", passwordEnv)
			}
			auth.SASL = s
		}
		// Read the TLS files and check the mechanism now, before any
		// connection.
		if _, err := auth.Opts(); err != nil {
			return auth, err
		}
		return auth, nil
	}
}
