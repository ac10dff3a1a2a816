package rollout

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// KafkaAuth says how a Kafka client secures its connections: TLS, SASL,
// both or neither. The zero KafkaAuth is plaintext without
// authentication, as a local broker runs; managed Kafka (MSK, Confluent
// Cloud, Redpanda Cloud) needs TLS and SASL.
//
// The password is never part of a log line, an error or a report: errors
// name the broker, the mechanism and the user, and String and the %v
// verbs print the password as [redacted].
type KafkaAuth struct {
	// TLS, when not nil, encrypts every connection.
	TLS *KafkaTLS
	// SASL, when not nil, authenticates every connection.
	SASL *KafkaSASL
}

// KafkaTLS configures TLS to the brokers.
type KafkaTLS struct {
	// CAFile is a PEM file of the certificates that may sign the
	// brokers' certificates; empty trusts the system's roots.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// brokers that authenticate clients by certificate (mutual TLS):
	// both or neither.
	CertFile, KeyFile string
	// ServerName is the name the brokers' certificates must carry;
	// empty uses each broker's host name.
	ServerName string
	// Config, when not nil, is used as it is and the fields above are
	// ignored: for roots built in memory or a custom verification.
	Config *tls.Config
}

// The SASL mechanisms KafkaSASL supports, as Kafka names them.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// KafkaSASL configures SASL authentication. Use PLAIN only over TLS: it
// sends the password as it is.
type KafkaSASL struct {
	// Mechanism is SASLPlain, SASLScramSHA256 or SASLScramSHA512
	// (case does not matter).
	Mechanism string
	User      string
	// Password is the user's password. Read it from the environment or
	// a file (see the README), never from a command-line flag, which
	// other users of the machine can read in ps.
	Password string
}

// String describes s without its password.
func (s KafkaSASL) String() string {
	return fmt.Sprintf("SASL %s as user %q", s.mechanism(), s.User)
}

// GoString is String, so that %#v does not print the password either.
func (s KafkaSASL) GoString() string { return s.String() }

func (s KafkaSASL) mechanism() string { return strings.ToUpper(strings.TrimSpace(s.Mechanism)) }

// String describes a without secrets: "plaintext", "TLS", "SASL
// SCRAM-SHA-256 as user "u" over TLS".
func (a KafkaAuth) String() string {
	switch {
	case a.SASL != nil && a.TLS != nil:
		return a.SASL.String() + " over TLS"
	case a.SASL != nil:
		return a.SASL.String() + " without TLS"
	case a.TLS != nil:
		return "TLS"
	}
	return "plaintext"
}

// GoString is String, so that %#v does not print the password either.
func (a KafkaAuth) GoString() string { return a.String() }

// Opts returns the franz-go options that secure a client as a says, for
// code that builds its own kgo.Client (rollout/partial's Opts). It reads
// the TLS files; an unreadable file, a file without certificates, a
// certificate without its key or an unknown mechanism is an error.
func (a KafkaAuth) Opts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if a.TLS != nil {
		cfg, err := a.TLS.config()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	if a.SASL != nil {
		m, err := a.SASL.asMechanism()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

func (t *KafkaTLS) config() (*tls.Config, error) {
	if t.Config != nil {
		return t.Config.Clone(), nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("rollout: kafka: TLS CA file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("rollout: kafka: TLS CA file %s holds no PEM certificate", t.CAFile)
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, errors.New("rollout: kafka: a TLS client certificate needs both a certificate file and a key file")
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("rollout: kafka: TLS client certificate %s and key %s: %w", t.CertFile, t.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func (s *KafkaSASL) asMechanism() (sasl.Mechanism, error) {
	if s.User == "" || s.Password == "" {
		return nil, fmt.Errorf("rollout: kafka: %s needs a user and a password", s)
	}
	switch s.mechanism() {
	case SASLPlain:
		return plain.Auth{User: s.User, Pass: s.Password}.AsMechanism(), nil
	case SASLScramSHA256:
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha256Mechanism(), nil
	case SASLScramSHA512:
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("rollout: kafka: unknown SASL mechanism %q (want %s, %s or %s)", s.Mechanism, SASLPlain, SASLScramSHA256, SASLScramSHA512)
}

// Connect returns a client of brokers with opts, secured as a says, once
// one of the brokers has answered (and accepted the credentials) within
// timeout (default 10 s). Otherwise it closes the client and the error
// says which failure it saw: an authentication refused (naming the broker,
// the mechanism and the user), a TLS handshake that failed, or no broker
// answering. rollout/partial connects through it.
func (a KafkaAuth) Connect(ctx context.Context, brokers []string, timeout time.Duration, opts ...kgo.Opt) (*kgo.Client, error) {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	secure, err := a.Opts()
	if err != nil {
		return nil, err
	}
	w := &connWatch{}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.WithHooks(w)}, secure...), opts...)...)
	if err != nil {
		return nil, a.redact(fmt.Errorf("rollout: kafka: %w", err))
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	err = cl.Ping(pctx)
	cancel()
	if err != nil {
		cl.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("rollout: kafka: %w", ctx.Err())
		}
		return nil, a.describe(w, fmt.Sprintf("no broker of %s answered within %v", strings.Join(brokers, ","), timeout), err)
	}
	return cl, nil
}

// describe turns a failure to reach the brokers into an error that says
// what the watch saw, without the password; what says what failed when
// no broker refused authentication.
func (a KafkaAuth) describe(w *connWatch, what string, err error) error {
	if broker, cause, ok := w.authFailure(); ok {
		mech := "SASL"
		if a.SASL != nil {
			mech = a.SASL.String()
		}
		return a.redact(&AuthError{Broker: broker, Auth: mech, Err: cause})
	}
	if broker, cause, ok := w.dialFailure(); ok {
		return a.redact(fmt.Errorf("rollout: kafka: %s (%s); the last dial, to %s: %w", what, a, broker, cause))
	}
	return a.redact(fmt.Errorf("rollout: kafka: %s (%s): %w", what, a, err))
}

// redact removes the password from err's message, should a broker or a
// library ever echo it.
func (a KafkaAuth) redact(err error) error {
	if err == nil || a.SASL == nil || a.SASL.Password == "" || !strings.Contains(err.Error(), a.SASL.Password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), a.SASL.Password, "[redacted]"))
}

// AuthError is a broker refusing a client's SASL authentication: wrong
// credentials, or a mechanism the broker does not offer.
type AuthError struct {
	// Broker is the broker's host:port.
	Broker string
	// Auth describes the mechanism and user, never the password.
	Auth string
	// Err is what the client saw: the broker's error, or the connection
	// closed when a broker answers a failed authentication by closing.
	Err error
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("rollout: kafka: broker %s refused authentication with %s (wrong user or password, or a mechanism the broker does not offer): %v", e.Broker, e.Auth, e.Err)
}

func (e *AuthError) Unwrap() error { return e.Err }

// The keys of the Kafka requests whose failure is an authentication
// failure.
const (
	saslHandshakeKey    = 17
	saslAuthenticateKey = 36
)

// connWatch records, through franz-go's hooks, the last failure of each
// kind a client met while connecting, so that an error can say which it
// was: franz-go's own error is often a bare EOF.
type connWatch struct {
	mu   sync.Mutex
	auth failure // a broker refused SASL authentication
	dial failure // dialing or the TLS handshake failed
}

type failure struct {
	broker string
	err    error
}

func brokerAddr(m kgo.BrokerMetadata) string {
	return net.JoinHostPort(m.Host, strconv.Itoa(int(m.Port)))
}

func isAuthErr(err error) bool {
	return errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.UnsupportedSaslMechanism) || errors.Is(err, kerr.IllegalSaslState)
}

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (w *connWatch) OnBrokerConnect(m kgo.BrokerMetadata, _ time.Duration, conn net.Conn, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case err == nil:
	case isAuthErr(err):
		w.auth = failure{brokerAddr(m), err}
	case conn == nil:
		// A dial cut short when the caller gave up says less than the
		// failure before it (a refused connection, a TLS handshake
		// that failed): keep that one.
		if w.dial.err == nil || !(errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			w.dial = failure{brokerAddr(m), err}
		}
	}
}

// OnBrokerRead implements kgo.HookBrokerRead: a broker that refuses SASL
// credentials may answer by closing the connection, so a failed read of
// the authentication response is the refusal.
func (w *connWatch) OnBrokerRead(m kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if key == saslAuthenticateKey || key == saslHandshakeKey {
		w.auth = failure{brokerAddr(m), err}
	}
}

func (w *connWatch) authFailure() (string, error, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.auth.broker, w.auth.err, w.auth.err != nil
}

func (w *connWatch) dialFailure() (string, error, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dial.broker, w.dial.err, w.dial.err != nil
}
