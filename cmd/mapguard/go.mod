module github.com/mapguard/mapguard/cmd/mapguard

go 1.26.0

require (
	github.com/mapguard/mapguard v0.0.0-00010101000000-000000000000
	github.com/mapguard/mapguard/bench v0.0.0-00010101000000-000000000000
	github.com/mapguard/mapguard/observe v0.0.0-00010101000000-000000000000
	github.com/mapguard/mapguard/rollout v0.0.0-00010101000000-000000000000
)

require (
	github.com/prometheus/client_golang v1.25.0
	github.com/twmb/franz-go v1.22.3
	github.com/twmb/franz-go/pkg/kfake v0.0.0-20260918054303-01f206a7e32c
	golang.org/x/net v0.62.0
)

require github.com/mapguard/mapguard/memtune v0.0.0-00010101000000-000000000000 // indirect

require (
	github.com/DataDog/sketches-go v1.4.8 // indirect
	github.com/HdrHistogram/hdrhistogram-go v1.4.0 // indirect
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/go-logr/logr v1.4.4 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/mapguard/mapguard/lab v0.0.0-00010101000000-000000000000
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/orcaman/concurrent-map/v2 v2.0.1 // indirect
	github.com/pierrec/lz4/v4 v4.1.33 // indirect
	github.com/prometheus/client_model v0.6.3 // indirect
	github.com/prometheus/common v0.72.0 // indirect
	github.com/prometheus/procfs v0.22.0 // indirect
	github.com/puzpuzpuz/xsync/v4 v4.5.0 // indirect
	github.com/twmb/franz-go/pkg/kmsg v1.15.1 // indirect
	github.com/twmb/murmur3 v1.2.2 // indirect
	go.opentelemetry.io/auto/sdk v1.2.1 // indirect
	go.opentelemetry.io/otel v1.47.0 // indirect
	go.opentelemetry.io/otel/log v1.47.0 // indirect
	go.opentelemetry.io/otel/metric v1.47.0 // indirect
	go.opentelemetry.io/otel/trace v1.47.0 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	golang.org/x/sys v0.49.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace (
	github.com/mapguard/mapguard => ../..
	github.com/mapguard/mapguard/bench => ../../bench
	github.com/mapguard/mapguard/lab => ../../lab
	github.com/mapguard/mapguard/memtune => ../../memtune
	github.com/mapguard/mapguard/observe => ../../observe
	github.com/mapguard/mapguard/rollout => ../../rollout
)

