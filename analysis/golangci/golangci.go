// Package golangci registers mapvet's analyzers as a golangci-lint module
// plugin named "mapvet". Build a custom golangci-lint with it by listing
// this module in .custom-gcl.yml:
//
//	version: v2.6.0
//	plugins:
//	  - module: github.com/mapguard/mapguard
//	    import: github.com/mapguard/mapguard/analysis/golangci
//	    version: latest
//
// then enable it in .golangci.yml:
//
//	linters:
//	  enable: [mapvet]
//	  settings:
//	    custom:
//	      mapvet:
//	        type: module
//	        settings:
//	          disable: [mapcapture]   # optional: analyzers to leave out
package golangci

import (
	"fmt"
	"slices"

	"github.com/golangci/plugin-module-register/register"
	"golang.org/x/tools/go/analysis"

	"github.com/mapguard/mapguard/analysis/suite"
)

func init() {
	register.Plugin("mapvet", New)
}

// Settings are the plugin's settings in .golangci.yml.
type Settings struct {
	// Disable lists analyzers to leave out, by name.
	Disable []string `json:"disable"`
}

type plugin struct{ settings Settings }

// New returns the plugin configured by settings, rejecting unknown
// analyzer names.
func New(settings any) (register.LinterPlugin, error) {
	s, err := register.DecodeSettings[Settings](settings)
	if err != nil {
		return nil, fmt.Errorf("mapvet: %w", err)
	}
	var names []string
	for _, a := range suite.Analyzers() {
		names = append(names, a.Name)
	}
	for _, d := range s.Disable {
		if !slices.Contains(names, d) {
			return nil, fmt.Errorf("mapvet: settings.disable: unknown analyzer %q (known: %v)", d, names)
		}
	}
	return &plugin{settings: s}, nil
}

// BuildAnalyzers returns the enabled analyzers.
func (p *plugin) BuildAnalyzers() ([]*analysis.Analyzer, error) {
	var out []*analysis.Analyzer
	for _, a := range suite.Analyzers() {
		if !slices.Contains(p.settings.Disable, a.Name) {
			out = append(out, a)
		}
	}
	return out, nil
}

// GetLoadMode says the analyzers need type information.
func (p *plugin) GetLoadMode() string { return register.LoadModeTypesInfo }
