module github.com/mapguard/mapguard/bench

go 1.26.0

require github.com/mapguard/mapguard v0.0.0-00010101000000-000000000000

require (
	github.com/HdrHistogram/hdrhistogram-go v1.4.0
	github.com/orcaman/concurrent-map/v2 v2.0.1
	github.com/puzpuzpuz/xsync/v4 v4.5.0
	go.yaml.in/yaml/v3 v3.0.6
)

require github.com/stretchr/testify v1.12.1 // indirect

replace github.com/mapguard/mapguard => ..
