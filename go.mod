module github.com/skiffnet/skiff

go 1.26.0

require (
	github.com/flynn/noise v1.1.0 // indirect
	github.com/pierrec/lz4/v4 v4.1.22 // indirect
	go.yaml.in/yaml/v3 v3.0.4 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
