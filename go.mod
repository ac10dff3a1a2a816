module github.com/mapguard/mapguard

go 1.26.0

require (
	github.com/HdrHistogram/hdrhistogram-go v1.4.0
	github.com/anishathalye/porcupine v1.3.1
	github.com/orcaman/concurrent-map/v2 v2.0.1
	github.com/puzpuzpuz/xsync/v4 v4.5.0
	go.yaml.in/yaml/v3 v3.0.6
)

require golang.org/x/net v0.62.0 // indirect
