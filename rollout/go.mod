module github.com/mapguard/mapguard/rollout

go 1.26.0

require github.com/mapguard/mapguard v0.0.0-00010101000000-000000000000

require (
	github.com/DataDog/sketches-go v1.4.8
	github.com/open-feature/go-sdk v1.20.0
	github.com/twmb/franz-go v1.22.3
	github.com/twmb/franz-go/pkg/kfake v0.0.0-20260918054303-01f206a7e32c
	github.com/twmb/franz-go/pkg/kmsg v1.15.1
	github.com/twmb/murmur3 v1.2.2
	go.yaml.in/yaml/v3 v3.0.6
)

require (
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/pierrec/lz4/v4 v4.1.33 // indirect
	go.uber.org/mock v0.6.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/mapguard/mapguard => ..
