package golangci_test

import (
	"strings"
	"testing"

	"github.com/golangci/plugin-module-register/register"

	_ "github.com/mapguard/mapguard/analysis/golangci"
	"github.com/mapguard/mapguard/analysis/suite"
)

func TestPluginRegistered(t *testing.T) {
	newPlugin, err := register.GetPlugin("mapvet")
	if err != nil {
		t.Fatal(err)
	}
	p, err := newPlugin(map[string]any{"disable": []any{"mapcapture"}})
	if err != nil {
		t.Fatal(err)
	}
	as, err := p.BuildAnalyzers()
	if want := len(suite.Analyzers()) - 1; err != nil || len(as) != want {
		t.Fatalf("BuildAnalyzers = %d analyzers, %v; want %d with mapcapture disabled", len(as), err, want)
	}
	for _, a := range as {
		if a.Name == "mapcapture" {
			t.Fatal("mapcapture was disabled")
		}
	}
	if p.GetLoadMode() != register.LoadModeTypesInfo {
		t.Fatalf("load mode %q", p.GetLoadMode())
	}
	if _, err := newPlugin(map[string]any{"disable": []any{"nosuch"}}); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Fatalf("unknown analyzer accepted: %v", err)
	}
}
