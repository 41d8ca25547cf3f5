package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/bench"
	"github.com/permiso-auth/permiso/internal/e2etest"
)

// TestBenchMachineScenarios runs `permiso bench`'s scenario of every
// method without a secret against a server it starts (the certificate
// scenarios need serve options): every request gets a token, and each is
// compared with the reference handler.
func TestBenchMachineScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts permiso")
	}
	scenarios := []string{bench.ScenarioPrivateKeyJWT, bench.ScenarioFederated, bench.ScenarioSPIFFE,
		bench.ScenarioTLSClientAuth, bench.ScenarioSelfSignedTLS}
	rep, err := bench.Run(context.Background(), bench.Config{ServerBinary: e2etest.PermisoBinary(t),
		Scenarios: scenarios, Connections: 2, Warmup: 50 * time.Millisecond, Duration: 300 * time.Millisecond,
		Rounds: 2, Reference: true, ReferenceMode: bench.ReferenceInProcess})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Scenarios) != len(scenarios) {
		t.Fatalf("%d scenarios reported, want %d", len(rep.Scenarios), len(scenarios))
	}
	for _, s := range rep.Scenarios {
		if s.Status != bench.StatusOK || s.Permiso == nil || s.Permiso.OK == 0 || s.Permiso.ErrorCount != 0 {
			t.Errorf("%s: %+v %+v", s.Name, s, s.Permiso)
			continue
		}
		if s.Reference == nil || s.Ratio == nil || *s.Ratio <= 0 {
			t.Errorf("%s: no ratio to the reference: %+v", s.Name, s)
		}
		if s.Permiso.ServerCPUSecondsPer1K == nil {
			t.Errorf("%s: no server CPU per 1,000 tokens", s.Name)
		}
	}
}
