module github.com/skiffnet/skiff

go 1.26.0

require (
	github.com/flynn/noise v1.1.0
	github.com/pierrec/lz4/v4 v4.1.22
	github.com/vishvananda/netlink v1.3.1
	github.com/vishvananda/netns v0.0.5
	go.yaml.in/yaml/v3 v3.0.4
	golang.org/x/crypto v0.58.0
	golang.org/x/sys v0.49.0
)

require (
	github.com/cilium/ebpf v0.22.0
	github.com/sirupsen/logrus v1.9.4
	go.fd.io/govpp v0.13.0
)

require (
	github.com/fsnotify/fsnotify v1.9.0 // indirect
	github.com/ftrvxmtrx/fd v0.0.0-20150925145434-c6d800382fff // indirect
	github.com/lunixbochs/struc v0.0.0-20200521075829-a4cb8d33dbbe // indirect
)

tool github.com/cilium/ebpf/cmd/bpf2go
