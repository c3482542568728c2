package tests

// Helpers for the tests in admission_cluster_e2e_test.go.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// servingCertificate makes a CA and a certificate for 127.0.0.1 signed by it, in dir
// (tls.crt, tls.key); it returns the CA's PEM, the webhook's caBundle.
func servingCertificate(t *testing.T, dir string) []byte {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "luban-admission-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "luban-admission"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	writeFile(t, filepath.Join(dir, "tls.crt"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})))
	writeFile(t, filepath.Join(dir, "tls.key"), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}

// startAdmission builds luban-admission from deploy/admission and runs it on 127.0.0.1 with
// the public key in keys, trusting the testbed registry's CA; it returns its URL and caBundle.
func startAdmission(t *testing.T, keys string) (string, []byte) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "luban-admission")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join(repoRoot(t), "deploy/admission")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build deploy/admission: %v\n%s", err, out)
	}
	tlsDir := t.TempDir()
	caBundle := servingCertificate(t, tlsDir)
	address := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	logFile, _ := os.Create(filepath.Join(t.TempDir(), "admission.log"))
	server := exec.Command(bin, "--listen="+address, "--tls-cert="+filepath.Join(tlsDir, "tls.crt"),
		"--tls-key="+filepath.Join(tlsDir, "tls.key"), "--public-key="+filepath.Join(keys, "cosign.pub"))
	server.Env = append(os.Environ(), "SSL_CERT_FILE="+filepath.Join(testbedDir, "ca-bundle.crt"))
	server.Stdout, server.Stderr = logFile, logFile
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		server.Process.Kill()
		server.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(logFile.Name())
			t.Logf("luban-admission's log:\n%s", log)
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if conn, err := net.Dial("tcp", address); err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("luban-admission never listened on %s", address)
		}
	}
	return "https://" + address + "/verify", caBundle
}
