package observe_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/mapguard/mapguard"
	"github.com/mapguard/mapguard/observe"
)

// wrapperAPI describes what a wrapper promises about the method set of
// the type it wraps.
type wrapperAPI struct {
	wrapped, wrapper reflect.Type
	// excluded are the wrapped type's methods the wrapper leaves out, each
	// with the reason.
	excluded map[string]string
	// extras are the wrapper's methods that the wrapped type lacks.
	extras []string
	// wrappedTypes are the types the wrapper returns in place of the
	// wrapped type's: a result of the key type in the wrapped method is a
	// result of the value type in the wrapper's.
	wrappedTypes map[reflect.Type]reflect.Type
}

// The method sets are compared on one instantiation; methods are the same
// for every instantiation of a generic type.
type (
	apiKey   = int
	apiValue = string
)

var wrapperAPIs = []wrapperAPI{
	{
		wrapped: reflect.TypeFor[*mapguard.Map[apiKey, apiValue]](),
		wrapper: reflect.TypeFor[*observe.Map[apiKey, apiValue]](),
		excluded: map[string]string{
			"Observe": "the instrument is the map's observer, set by Instrument: another would replace it and stop the counting of Loads and Stores",
		},
		extras: []string{"Collector", "RangeContext", "Unwrap"},
	},
	{
		wrapped: reflect.TypeFor[*mapguard.SnapshotMap[apiKey, apiValue]](),
		wrapper: reflect.TypeFor[*observe.SnapshotMap[apiKey, apiValue]](),
		extras:  []string{"Collector", "RangeContext", "Unwrap"},
		wrappedTypes: map[reflect.Type]reflect.Type{
			reflect.TypeFor[*mapguard.View[apiKey, apiValue]](): reflect.TypeFor[*observe.View[apiKey, apiValue]](),
		},
	},
	{
		wrapped: reflect.TypeFor[*mapguard.View[apiKey, apiValue]](),
		wrapper: reflect.TypeFor[*observe.View[apiKey, apiValue]](),
		extras:  []string{"RangeContext", "Unwrap"},
	},
	{
		wrapped: reflect.TypeFor[*mapguard.ReadMostly[apiKey, apiValue]](),
		wrapper: reflect.TypeFor[*observe.ReadMostly[apiKey, apiValue]](),
		extras:  []string{"Collector", "RangeContext", "Unwrap"},
	},
}

// signature returns the parameter and result types of method m, without
// the receiver, with the types of wrappedTypes replaced.
func signature(m reflect.Method, wrappedTypes map[reflect.Type]reflect.Type) (in, out []reflect.Type, variadic bool) {
	ft := m.Type
	for i := 1; i < ft.NumIn(); i++ {
		in = append(in, ft.In(i))
	}
	for i := range ft.NumOut() {
		t := ft.Out(i)
		if w, ok := wrappedTypes[t]; ok {
			t = w
		}
		out = append(out, t)
	}
	return in, out, ft.IsVariadic()
}

// TestWrappersHaveTheWholeAPI checks by reflection that each wrapper has
// every exported method of the type it wraps, with the same parameters
// and results (up to the wrapped types it returns instead), but for the
// exclusions listed with their reasons, and no methods beyond its listed
// extras.
func TestWrappersHaveTheWholeAPI(t *testing.T) {
	for _, api := range wrapperAPIs {
		t.Run(api.wrapper.String(), func(t *testing.T) {
			for name, why := range api.excluded {
				if _, ok := api.wrapped.MethodByName(name); !ok {
					t.Errorf("excluded method %s is not a method of %v: drop the exclusion", name, api.wrapped)
				}
				if why == "" {
					t.Errorf("excluded method %s has no reason", name)
				}
			}
			for i := range api.wrapped.NumMethod() {
				m := api.wrapped.Method(i)
				if _, ok := api.excluded[m.Name]; ok {
					continue
				}
				w, ok := api.wrapper.MethodByName(m.Name)
				if !ok {
					t.Errorf("%v lacks %v.%s, of type %v", api.wrapper, api.wrapped, m.Name, m.Type)
					continue
				}
				wantIn, wantOut, wantVar := signature(m, api.wrappedTypes)
				gotIn, gotOut, gotVar := signature(w, nil)
				if !slices.Equal(gotIn, wantIn) || !slices.Equal(gotOut, wantOut) || gotVar != wantVar {
					t.Errorf("%v.%s takes %v and returns %v; want %v and %v (as %v's)", api.wrapper, m.Name, gotIn, gotOut, wantIn, wantOut, api.wrapped)
				}
			}
			for i := range api.wrapper.NumMethod() {
				m := api.wrapper.Method(i)
				if _, ok := api.wrapped.MethodByName(m.Name); !ok && !slices.Contains(api.extras, m.Name) {
					t.Errorf("%v.%s is not a method of %v nor a listed extra", api.wrapper, m.Name, api.wrapped)
				}
			}
			for _, name := range api.extras {
				if _, ok := api.wrapper.MethodByName(name); !ok {
					t.Errorf("listed extra %s is not a method of %v", name, api.wrapper)
				}
			}
		})
	}
}
