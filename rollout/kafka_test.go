package rollout_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/mapguard/mapguard/rollout"
)

// testCA is a certificate authority made in the test, writing PEM files
// into dir.
type testCA struct {
	t    *testing.T
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// File is the CA's certificate as a PEM file.
	File string
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{t: t, dir: t.TempDir(), cert: cert, key: key}
	ca.File = ca.write(name+".pem", "CERTIFICATE", der)
	return ca
}

func (ca *testCA) write(name, kind string, der []byte) string {
	path := filepath.Join(ca.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		ca.t.Fatal(err)
	}
	return path
}

// issue returns a certificate signed by ca for 127.0.0.1, its PEM files
// and the tls.Certificate.
func (ca *testCA) issue(name string, usage x509.ExtKeyUsage) (certFile, keyFile string, cert tls.Certificate) {
	ca.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		ca.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		ca.t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		ca.t.Fatal(err)
	}
	certFile = ca.write(name+".pem", "CERTIFICATE", der)
	keyFile = ca.write(name+".key", "EC PRIVATE KEY", kder)
	cert, err = tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		ca.t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// secret is the password of the tests' Kafka users; wrongSecret is the
// one a failing run gives. No output may hold either.
const (
	secret      = "s3cret-Pa55word-xyzzy"
	wrongSecret = "wr0ng-Pa55word-plugh"
)

// saslCluster starts a kfake cluster that requires SASL, with user "app"
// known to every mechanism, and the topic "events".
func saslCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.EnableSASL(),
		kfake.Superuser(rollout.SASLPlain, "app", secret),
		kfake.Superuser(rollout.SASLScramSHA256, "app", secret),
		kfake.Superuser(rollout.SASLScramSHA512, "app", secret),
		kfake.SeedTopics(2, "events")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// emit sends n events through a sink secured by auth, closes it and
// returns its stats and last error.
func emit(t *testing.T, addrs []string, auth rollout.KafkaAuth, n int, timeout time.Duration) (rollout.KafkaStats, error) {
	t.Helper()
	s, err := rollout.NewKafkaSink(rollout.KafkaOptions{Brokers: addrs, Topic: "events", Auth: auth, DeliveryTimeout: timeout, MaxBuffered: n})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := s.Emit(context.Background(), event(i)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	return s.Stats(), s.Err()
}

// readAll reads the topic with auth and returns the events' count.
func readAll(t *testing.T, addrs []string, auth rollout.KafkaAuth) (int, error) {
	t.Helper()
	n := 0
	_, err := rollout.ReadEventsKafka(context.Background(), rollout.KafkaReadOptions{Brokers: addrs, Topic: "events", Auth: auth, Idle: 500 * time.Millisecond, Timeout: 5 * time.Second},
		func(rollout.Event) { n++ })
	return n, err
}

// TestKafkaSASL writes and reads with each SASL mechanism; a wrong
// password is an *AuthError naming the broker and the mechanism, writes
// nothing, keeps the sink's accounting whole, and never shows a password.
func TestKafkaSASL(t *testing.T) {
	for _, mech := range []string{rollout.SASLPlain, rollout.SASLScramSHA256, "scram-sha-512"} {
		t.Run(mech, func(t *testing.T) {
			c := saslCluster(t)
			addrs := c.ListenAddrs()
			good := rollout.KafkaAuth{SASL: &rollout.KafkaSASL{Mechanism: mech, User: "app", Password: secret}}
			bad := rollout.KafkaAuth{SASL: &rollout.KafkaSASL{Mechanism: mech, User: "app", Password: wrongSecret}}

			// Wrong password first: nothing may reach the topic.
			st, sinkErr := emit(t, addrs, bad, 20, time.Second)
			if st.Delivered != 0 || st.Dropped+st.Failed != 20 {
				t.Errorf("sink with a wrong password: %+v; want 0 delivered and all 20 emitted dropped or failed", st)
			}
			n, readErr := readAll(t, addrs, bad)
			for what, err := range map[string]error{"read": readErr, "sink": sinkErr} {
				var ae *rollout.AuthError
				if !errors.As(err, &ae) {
					t.Fatalf("%s with a wrong password: %v (%T); want an *AuthError", what, err, err)
				}
				msg := err.Error()
				if ae.Broker != addrs[0] || !strings.Contains(msg, addrs[0]) || !strings.Contains(msg, strings.ToUpper(mech)) || !strings.Contains(msg, `"app"`) {
					t.Errorf("%s error %q does not name broker %s, mechanism %s and user app", what, msg, addrs[0], mech)
				}
				if strings.Contains(msg, wrongSecret) || strings.Contains(msg, secret) {
					t.Errorf("%s error shows a password: %q", what, msg)
				}
			}
			if n != 0 {
				t.Errorf("read %d events with a wrong password", n)
			}

			st, err := emit(t, addrs, good, 50, 10*time.Second)
			if err != nil || st != (rollout.KafkaStats{Delivered: 50}) {
				t.Fatalf("sink with the right password: %+v, %v; want 50 delivered", st, err)
			}
			if n, err := readAll(t, addrs, good); err != nil || n != 50 {
				t.Fatalf("read with the right password: %d events, %v; want the 50 written (none from the failed run)", n, err)
			}
		})
	}
}

// TestKafkaNoSASL: a client without credentials against a broker that
// requires them fails with an error, not an empty topic.
func TestKafkaNoSASL(t *testing.T) {
	c := saslCluster(t)
	n, err := readAll(t, c.ListenAddrs(), rollout.KafkaAuth{})
	if err == nil {
		t.Fatalf("read without SASL from a broker requiring it: %d events and no error", n)
	}
	t.Log(err)
}

// TestKafkaTLS connects over TLS with a CA made in the test, with and
// without a client certificate, and with SCRAM on top; a client that
// does not trust the broker's CA, or lacks the certificate the broker
// requires, gets an error that says TLS.
func TestKafkaTLS(t *testing.T) {
	ca := newTestCA(t, "test-ca")
	_, _, serverCert := ca.issue("broker", x509.ExtKeyUsageServerAuth)
	clientCertFile, clientKeyFile, _ := ca.issue("client", x509.ExtKeyUsageClientAuth)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)

	t.Run("server-auth+scram", func(t *testing.T) {
		c := saslCluster(t, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{serverCert}}))
		auth := rollout.KafkaAuth{TLS: &rollout.KafkaTLS{CAFile: ca.File}, SASL: &rollout.KafkaSASL{Mechanism: rollout.SASLScramSHA256, User: "app", Password: secret}}
		if st, err := emit(t, c.ListenAddrs(), auth, 10, 10*time.Second); err != nil || st.Delivered != 10 {
			t.Fatalf("TLS+SCRAM sink: %+v, %v", st, err)
		}
		if n, err := readAll(t, c.ListenAddrs(), auth); err != nil || n != 10 {
			t.Fatalf("TLS+SCRAM read: %d, %v; want 10", n, err)
		}
		// The system roots do not hold the test's CA.
		untrusted := rollout.KafkaAuth{TLS: &rollout.KafkaTLS{}, SASL: auth.SASL}
		_, err := readAll(t, c.ListenAddrs(), untrusted)
		if err == nil || !strings.Contains(err.Error(), "certificate") || !strings.Contains(err.Error(), "over TLS") || strings.Contains(err.Error(), secret) {
			t.Fatalf("TLS with the system roots against a test CA: %v; want a certificate error saying TLS, without the password", err)
		}
		// Plaintext against a TLS listener.
		if _, err := readAll(t, c.ListenAddrs(), rollout.KafkaAuth{SASL: auth.SASL}); err == nil {
			t.Fatal("plaintext read from a TLS broker: no error")
		}
	})

	t.Run("mutual", func(t *testing.T) {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "events"),
			kfake.TLS(&tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		auth := rollout.KafkaAuth{TLS: &rollout.KafkaTLS{CAFile: ca.File, CertFile: clientCertFile, KeyFile: clientKeyFile, ServerName: "localhost"}}
		if st, err := emit(t, c.ListenAddrs(), auth, 5, 10*time.Second); err != nil || st.Delivered != 5 {
			t.Fatalf("mutual TLS sink: %+v, %v", st, err)
		}
		if n, err := readAll(t, c.ListenAddrs(), auth); err != nil || n != 5 {
			t.Fatalf("mutual TLS read: %d, %v; want 5", n, err)
		}
		noCert := rollout.KafkaAuth{TLS: &rollout.KafkaTLS{CAFile: ca.File}}
		if _, err := readAll(t, c.ListenAddrs(), noCert); err == nil {
			t.Fatal("read without the client certificate the broker requires: no error")
		}
	})
}

// TestKafkaAuthBadInput: files that are missing, not PEM or half a pair,
// and unknown or incomplete SASL settings, are errors before any
// connection, and none shows the password.
func TestKafkaAuthBadInput(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	ca := newTestCA(t, "ca")
	certFile, _, _ := ca.issue("client", x509.ExtKeyUsageClientAuth)
	for _, tc := range []struct {
		name string
		auth rollout.KafkaAuth
		want string
	}{
		{"missing CA", rollout.KafkaAuth{TLS: &rollout.KafkaTLS{CAFile: filepath.Join(dir, "nope.pem")}}, "no such file"},
		{"CA not PEM", rollout.KafkaAuth{TLS: &rollout.KafkaTLS{CAFile: notPEM}}, "holds no PEM certificate"},
		{"cert without key", rollout.KafkaAuth{TLS: &rollout.KafkaTLS{CertFile: certFile}}, "both a certificate file and a key file"},
		{"key is a cert", rollout.KafkaAuth{TLS: &rollout.KafkaTLS{CertFile: certFile, KeyFile: certFile}}, "TLS client certificate"},
		{"unknown mechanism", rollout.KafkaAuth{SASL: &rollout.KafkaSASL{Mechanism: "GSSAPI", User: "u", Password: secret}}, `unknown SASL mechanism "GSSAPI"`},
		{"no password", rollout.KafkaAuth{SASL: &rollout.KafkaSASL{Mechanism: "PLAIN", User: "u"}}, "needs a user and a password"},
		{"no user", rollout.KafkaAuth{SASL: &rollout.KafkaSASL{Mechanism: "PLAIN", Password: secret}}, "needs a user and a password"},
	} {
		_, err := tc.auth.Opts()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "rollout: kafka: ") || strings.Contains(err.Error(), secret) {
			t.Errorf("%s: %v; want a rollout: kafka: error saying %q, without the password", tc.name, err, tc.want)
		}
		_, serr := rollout.NewKafkaSink(rollout.KafkaOptions{Brokers: []string{"127.0.0.1:1"}, Topic: "t", Auth: tc.auth})
		_, rerr := rollout.ReadEventsKafka(context.Background(), rollout.KafkaReadOptions{Brokers: []string{"127.0.0.1:1"}, Topic: "t", Auth: tc.auth}, func(rollout.Event) {})
		if serr == nil || rerr == nil || serr.Error() != err.Error() || rerr.Error() != err.Error() {
			t.Errorf("%s: sink %v, reader %v; want both to fail as Opts does", tc.name, serr, rerr)
		}
	}
}

// TestKafkaAuthPrintsNoPassword: every fmt verb on the options and the
// auth settings leaves the password out.
func TestKafkaAuthPrintsNoPassword(t *testing.T) {
	auth := rollout.KafkaAuth{TLS: &rollout.KafkaTLS{CAFile: "ca.pem"}, SASL: &rollout.KafkaSASL{Mechanism: "SCRAM-SHA-512", User: "app", Password: secret}}
	for _, v := range []any{auth, &auth, *auth.SASL, auth.SASL, rollout.KafkaOptions{Auth: auth}, rollout.KafkaReadOptions{Auth: auth}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if s := fmt.Sprintf(verb, v); strings.Contains(s, secret) {
				t.Errorf("fmt %s of %T shows the password: %s", verb, v, s)
			}
		}
	}
	if got, want := auth.String(), `SASL SCRAM-SHA-512 as user "app" over TLS`; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
}
