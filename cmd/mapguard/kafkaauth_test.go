package main

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
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/mapguard/mapguard/rollout"
)

// The password of the test's Kafka user, and the wrong one a failing run
// gives: no output of any run may hold either.
const (
	kafkaSecret = "s3cret-Pa55word-xyzzy"
	kafkaWrong  = "wr0ng-Pa55word-plugh"
)

// selfSignedTLS returns a TLS certificate for 127.0.0.1 that is its own
// CA, and the PEM file of it.
func selfSignedTLS(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "broker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, file
}

// runCommand runs this test binary as the mapguard command with env
// added, and returns its exit code and all it printed.
func runCommand(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Env = append(append(os.Environ(), "MAPGUARD_TEST_AS_COMMAND=1"), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("mapguard %s: %v", strings.Join(args, " "), err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// allUnits says whether a report shows the 200 units written to each arm.
func allUnits(report string) bool {
	n := 0
	for _, line := range strings.Split(report, "\n") {
		if f := strings.Fields(line); len(f) > 1 && (f[0] == "syncmap" || f[0] == "mapguard") && f[1] == "200" {
			n++
		}
	}
	return n == 2
}

// TestRolloutKafkaAuth runs every rollout command that talks to Kafka
// against a broker requiring TLS and SCRAM-SHA-512: with the right
// password (from the environment, and from a file) they work; with a
// wrong one each exits 1 naming the broker and the mechanism, and no
// output holds a password.
func TestRolloutKafkaAuth(t *testing.T) {
	cert, caFile := selfSignedTLS(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "exposures"), kfake.EnableSASL(),
		kfake.Superuser(rollout.SASLScramSHA512, "analyst", kafkaSecret), kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	broker := c.ListenAddrs()[0]
	auth := rollout.KafkaAuth{TLS: &rollout.KafkaTLS{CAFile: caFile}, SASL: &rollout.KafkaSASL{Mechanism: rollout.SASLScramSHA512, User: "analyst", Password: kafkaSecret}}
	sink, err := rollout.NewKafkaSink(rollout.KafkaOptions{Brokers: []string{broker}, Topic: "exposures", Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 400 {
		arm := []string{"syncmap", "mapguard"}[i%2]
		sink.Emit(context.Background(), rollout.Event{Experiment: "map-impl", Arm: arm, Unit: "u" + strconv.Itoa(i), Time: time.Now(), Metrics: map[string]float64{"ns": float64(100 + i%7)}})
	}
	if err := sink.Close(); err != nil || sink.Stats().Delivered != 400 {
		t.Fatalf("sink over TLS+SCRAM: %+v, %v", sink.Stats(), err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "experiments.yaml")
	os.WriteFile(cfg, []byte(mapImplConfig), 0o644)
	pwFile := filepath.Join(dir, "password")
	os.WriteFile(pwFile, []byte(kafkaSecret+"\n"), 0o600)
	secure := []string{"-brokers", broker, "-tls-ca", caFile, "-sasl", "SCRAM-SHA-512", "-sasl-user", "analyst", "-timeout", "5s"}
	analyze := append([]string{"rollout", "analyze", "-config", cfg, "-experiment", "map-impl", "-topic", "exposures"}, secure...)

	code, out := runCommand(t, []string{passwordEnv + "=" + kafkaSecret}, analyze...)
	if code != 0 || !allUnits(out) {
		t.Fatalf("analyze with the right password: exit %d\n%s", code, out)
	}

	// The scale-out pair, the password from a file: one aggregate member
	// publishes, report reads its partials.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"rollout", "aggregate", "-config", cfg, "-experiment", "map-impl", "-topic", "exposures", "-group", "agg",
			"-partials", "partials", "-interval", "100ms", "-progress", "0", "-sasl-password-file", pwFile}, secure...), io.Discard, io.Discard)
	}()
	report := append(append([]string{"rollout", "report", "-experiment", "map-impl", "-partials", "partials", "-topic", "exposures"}, secure...), "-sasl-password-file", pwFile)
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, out = runCommand(t, nil, report...)
		if code == 0 && allUnits(out) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("report over TLS+SCRAM never showed the 400 units: exit %d\n%s", code, out)
		}
		time.Sleep(300 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("aggregate over TLS+SCRAM: %v", err)
	}

	for name, args := range map[string][]string{
		"analyze":   analyze,
		"report":    report[:len(report)-2], // the password from the environment
		"aggregate": append([]string{"rollout", "aggregate", "-config", cfg, "-experiment", "map-impl", "-topic", "exposures", "-group", "agg2", "-partials", "partials2"}, secure...),
	} {
		code, out := runCommand(t, []string{passwordEnv + "=" + kafkaWrong}, args...)
		t.Logf("%s with a wrong password: exit %d: %s", name, code, out)
		if code != 1 || !strings.Contains(out, broker) || !strings.Contains(out, "SCRAM-SHA-512") || !strings.Contains(out, "refused authentication") {
			t.Errorf("%s with a wrong password: exit %d; want 1 and an error naming broker %s and SCRAM-SHA-512:\n%s", name, code, broker, out)
		}
		if strings.Contains(out, kafkaWrong) || strings.Contains(out, kafkaSecret) {
			t.Errorf("%s with a wrong password printed a password:\n%s", name, out)
		}
	}
}

// TestRolloutKafkaAuthFlags: the security flags' misuse is a usage error
// before any connection, a password has no flag, and files that cannot
// be read are errors; no message holds the password.
func TestRolloutKafkaAuthFlags(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "experiments.yaml")
	os.WriteFile(cfg, []byte(mapImplConfig), 0o644)
	emptyFile := filepath.Join(dir, "empty")
	os.WriteFile(emptyFile, nil, 0o600)
	notPEM := filepath.Join(dir, "ca.pem")
	os.WriteFile(notPEM, []byte("nope"), 0o600)
	base := []string{"rollout", "analyze", "-config", cfg, "-experiment", "map-impl", "-brokers", "127.0.0.1:1", "-topic", "t"}
	for _, tc := range []struct {
		env   string
		args  []string
		usage bool
		want  string
	}{
		{"", []string{"-sasl", "PLAIN", "-sasl-user", "u"}, true, passwordEnv},
		{kafkaSecret, []string{"-sasl", "PLAIN"}, true, userEnv},
		{kafkaSecret, []string{"-sasl", "PLAIN", "-sasl-user", "u", "-sasl-password-file", emptyFile}, true, "not both"},
		{"", []string{"-sasl-user", "u"}, true, "need -sasl"},
		{"", []string{"-sasl", "PLAIN", "-sasl-user", "u", "-sasl-password", kafkaSecret}, true, "not defined"},
		{"", []string{"-tls-cert", "c.pem"}, true, "go together"},
		{"", []string{"-sasl", "PLAIN", "-sasl-user", "u", "-sasl-password-file", filepath.Join(dir, "missing")}, false, "no such file"},
		{"", []string{"-sasl", "PLAIN", "-sasl-user", "u", "-sasl-password-file", emptyFile}, false, "is empty"},
		{kafkaSecret, []string{"-sasl", "GSSAPI", "-sasl-user", "u"}, false, "unknown SASL mechanism"},
		{"", []string{"-tls-ca", notPEM}, false, "holds no PEM certificate"},
	} {
		if tc.env != "" {
			t.Setenv(passwordEnv, tc.env)
		} else {
			os.Unsetenv(passwordEnv)
		}
		var errOut strings.Builder
		err := run(context.Background(), append(append([]string{}, base...), tc.args...), io.Discard, &errOut)
		var ue *usageError
		if err == nil || errors.As(err, &ue) != tc.usage || !strings.Contains(err.Error()+errOut.String(), tc.want) || strings.Contains(err.Error()+errOut.String(), kafkaSecret) {
			t.Errorf("%q with password env %q: %v (usage error: %v); want usage error %v saying %q, without the password", tc.args, tc.env, err, errors.As(err, &ue), tc.usage, tc.want)
		}
	}
}
