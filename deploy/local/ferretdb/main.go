// Command ferretdb-local runs an embedded FerretDB v1 for local development, on PostgreSQL
// (-postgresql-url, the default of scripts/infra.sh) or on SQLite (-data, CRM_LOCAL_STORE=sqlite).
//
// The upstream `go install github.com/FerretDB/FerretDB/cmd/ferretdb` binary panics because
// the version file is generated at release time; embedding the library avoids that.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	data := flag.String("data", "", "existing directory for SQLite data files (SQLite backend)")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL URL, e.g. postgres://postgres@127.0.0.1:27018/ferretdb "+
		"(PostgreSQL backend; exactly one of -data and -postgresql-url)")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn or error "+
		"(info logs every connection; warn still logs every error response sent to clients)")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		log.Fatalf("ferretdb-local: bad -log-level: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	config := ferretdb.Config{
		Listener: ferretdb.ListenerConfig{
			TCP: *listen,
		},
		Logger: logger,
	}
	var where string

	switch {
	case (*data == "") == (*pgURL == ""):
		log.Fatal("ferretdb-local: give exactly one of -data (SQLite) and -postgresql-url (PostgreSQL)")

	case *pgURL != "":
		config.Handler = "postgresql"
		config.PostgreSQLURL = *pgURL
		where = "postgresql " + *pgURL

	default:
		dir, err := filepath.Abs(*data)
		if err != nil {
			log.Fatalf("ferretdb-local: %v", err)
		}

		fi, err := os.Stat(dir)
		if err != nil {
			log.Fatalf("ferretdb-local: data directory: %v", err)
		}
		if !fi.IsDir() {
			log.Fatalf("ferretdb-local: %s is not a directory", dir)
		}

		// FerretDB requires the SQLite URL to be a directory URL ending with "/".
		if !strings.HasSuffix(dir, "/") {
			dir += "/"
		}

		config.Handler = "sqlite"
		config.SQLiteURL = "file:" + dir
		where = "sqlite " + dir
	}

	f, err := ferretdb.New(&config)
	if err != nil {
		log.Fatalf("ferretdb-local: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Fprintf(os.Stderr, "ferretdb-local: listening on %s, %s, uri %s\n", *listen, where, f.MongoDBURI())

	if err = f.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Fatalf("ferretdb-local: %v", err)
	}

	fmt.Fprintln(os.Stderr, "ferretdb-local: stopped")
}
