module github.com/mapguard/mapguard

go 1.26.0
