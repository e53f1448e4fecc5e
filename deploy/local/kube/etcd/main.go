// Command etcd is etcd's own entry point: go.etcd.io/etcd/server/v3 has replace directives, so
// `go install` of its main module is refused; a main that calls etcdmain.Main builds from the
// Go module proxy like any dependency.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
