module github.com/mapguard/mapguard

go 1.26

require (
	github.com/anishathalye/porcupine v1.3.1
	github.com/orcaman/concurrent-map/v2 v2.0.1
	github.com/puzpuzpuz/xsync/v4 v4.5.0
)
