// Package ofprovider is an OpenFeature provider backed by rollout's
// assignment, so services that evaluate flags through
// github.com/open-feature/go-sdk get the same arms as rollout.Assign.
//
// A flag key is an experiment key; the evaluation context's targeting key
// is the unit id and its string attributes are the unit's attributes for
// targeting. A string evaluation returns the arm's name as value and
// variant with reason SPLIT, or the default value with reason DEFAULT when
// the unit is not enrolled. Every evaluation that picks an arm records an
// exposure in the Sink (the provider's hook), and Track records a metric
// value for the unit's arm.
package ofprovider

import (
	"context"
	"fmt"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/mapguard/mapguard/rollout"
)

// Provider resolves flags with a rollout.Assigner.
type Provider struct {
	assigner *rollout.Assigner
	sink     rollout.Sink
	now      func() time.Time
}

// New returns a provider assigning with a and recording exposures and
// tracked metrics in sink (nil records nothing).
func New(a *rollout.Assigner, sink rollout.Sink) *Provider {
	return &Provider{assigner: a, sink: sink, now: time.Now}
}

var (
	_ of.FeatureProvider = (*Provider)(nil)
	_ of.Tracker         = (*Provider)(nil)
)

// Metadata names the provider.
func (p *Provider) Metadata() of.Metadata { return of.Metadata{Name: "mapguard-rollout"} }

// Hooks returns the exposure hook.
func (p *Provider) Hooks() []of.Hook { return []of.Hook{exposureHook{p}} }

// assign resolves flag for the context.
func (p *Provider) assign(flag string, flat of.FlattenedContext) (rollout.Assignment, *of.ResolutionError) {
	unit, _ := flat[of.TargetingKey].(string)
	if unit == "" {
		e := of.NewTargetingKeyMissingResolutionError("mapguard-rollout: the evaluation context has no targeting key (the unit id)")
		return rollout.Assignment{}, &e
	}
	attrs := map[string]string{}
	for k, v := range flat {
		if s, ok := v.(string); ok && k != of.TargetingKey {
			attrs[k] = s
		}
	}
	a, err := p.assigner.Assign(flag, unit, attrs)
	if err != nil {
		e := of.NewFlagNotFoundResolutionError(err.Error())
		return rollout.Assignment{}, &e
	}
	return a, nil
}

// StringEvaluation returns the unit's arm.
func (p *Provider) StringEvaluation(_ context.Context, flag string, defaultValue string, flat of.FlattenedContext) of.StringResolutionDetail {
	a, rerr := p.assign(flag, flat)
	if rerr != nil {
		return of.StringResolutionDetail{Value: defaultValue, ProviderResolutionDetail: of.ProviderResolutionDetail{ResolutionError: *rerr, Reason: of.ErrorReason}}
	}
	if a.Arm == "" {
		return of.StringResolutionDetail{Value: defaultValue, ProviderResolutionDetail: of.ProviderResolutionDetail{Reason: of.DefaultReason,
			FlagMetadata: of.FlagMetadata{"rollout.reason": a.Reason}}}
	}
	return of.StringResolutionDetail{Value: a.Arm, ProviderResolutionDetail: of.ProviderResolutionDetail{Reason: of.SplitReason, Variant: a.Arm}}
}

func typeMismatch(flag, typ string) of.ProviderResolutionDetail {
	return of.ProviderResolutionDetail{
		ResolutionError: of.NewTypeMismatchResolutionError(fmt.Sprintf("mapguard-rollout: flag %q is an experiment: evaluate it as a string (the arm), not a %s", flag, typ)),
		Reason:          of.ErrorReason,
	}
}

// BooleanEvaluation is a type mismatch: an experiment's value is its arm.
func (p *Provider) BooleanEvaluation(_ context.Context, flag string, d bool, _ of.FlattenedContext) of.BoolResolutionDetail {
	return of.BoolResolutionDetail{Value: d, ProviderResolutionDetail: typeMismatch(flag, "bool")}
}

// FloatEvaluation is a type mismatch.
func (p *Provider) FloatEvaluation(_ context.Context, flag string, d float64, _ of.FlattenedContext) of.FloatResolutionDetail {
	return of.FloatResolutionDetail{Value: d, ProviderResolutionDetail: typeMismatch(flag, "float")}
}

// IntEvaluation is a type mismatch.
func (p *Provider) IntEvaluation(_ context.Context, flag string, d int64, _ of.FlattenedContext) of.IntResolutionDetail {
	return of.IntResolutionDetail{Value: d, ProviderResolutionDetail: typeMismatch(flag, "int")}
}

// ObjectEvaluation is a type mismatch.
func (p *Provider) ObjectEvaluation(_ context.Context, flag string, d any, _ of.FlattenedContext) of.InterfaceResolutionDetail {
	return of.InterfaceResolutionDetail{Value: d, ProviderResolutionDetail: typeMismatch(flag, "object")}
}

// Track records a metric for the unit's arm: the event name is the metric,
// details' value its value, and details' attribute "experiment" names the
// experiment. A unit not enrolled records nothing.
func (p *Provider) Track(ctx context.Context, name string, ec of.EvaluationContext, details of.TrackingEventDetails) {
	key, _ := details.Attribute("experiment").(string)
	if p.sink == nil || key == "" || ec.TargetingKey() == "" {
		return
	}
	flat := of.FlattenedContext{of.TargetingKey: ec.TargetingKey()}
	for k, v := range ec.Attributes() {
		flat[k] = v
	}
	a, rerr := p.assign(key, flat)
	if rerr != nil || a.Arm == "" {
		return
	}
	p.sink.Emit(ctx, rollout.Event{Experiment: key, Arm: a.Arm, Unit: a.Unit, Time: p.now(), Metrics: map[string]float64{name: details.Value()}})
}

// exposureHook records an exposure after every evaluation that picked an
// arm.
type exposureHook struct {
	p *Provider
}

func (h exposureHook) Before(context.Context, of.HookContext, of.HookHints) (*of.EvaluationContext, error) {
	return nil, nil
}

func (h exposureHook) After(ctx context.Context, hc of.HookContext, d of.InterfaceEvaluationDetails, _ of.HookHints) error {
	if h.p.sink == nil || d.Variant == "" {
		return nil
	}
	return h.p.sink.Emit(ctx, rollout.Event{Experiment: hc.FlagKey(), Arm: d.Variant, Unit: hc.EvaluationContext().TargetingKey(), Time: h.p.now()})
}

func (h exposureHook) Error(context.Context, of.HookContext, error, of.HookHints) {}

func (h exposureHook) Finally(context.Context, of.HookContext, of.InterfaceEvaluationDetails, of.HookHints) {
}
