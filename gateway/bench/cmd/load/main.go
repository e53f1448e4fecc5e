// Load generator for `make bench-gateway`: a fixed number of virtual users (goroutines), each
// posting the same GraphQL document in a loop for a fixed time over keep-alive loopback
// connections, like k6's constant-VUs executor. A response counts as failed when its status is
// not 200 or its body contains "errors" (the public scenario's check). Prints one JSON line.
//
// Usage: load -url http://127.0.0.1:4000/graphql -body request.json -vus 50 -duration 20s
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"
)

type result struct {
	Requests int     `json:"requests"`
	Failed   int     `json:"failed"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
	P50Ms    float64 `json:"p50_ms"`
	P90Ms    float64 `json:"p90_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
}

func main() {
	url := flag.String("url", "", "GraphQL endpoint")
	bodyFile := flag.String("body", "", "file with the JSON request body")
	vus := flag.Int("vus", 50, "virtual users (concurrent requests)")
	duration := flag.Duration("duration", 20*time.Second, "how long to send")
	flag.Parse()
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	client := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns: *vus * 2, MaxIdleConnsPerHost: *vus * 2, DisableCompression: true,
		},
	}
	errorsKey := []byte(`"errors"`)
	latencies := make([][]time.Duration, *vus)
	failed := make([]int, *vus)
	var wg sync.WaitGroup
	started := time.Now()
	deadline := started.Add(*duration)
	for i := 0; i < *vus; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for time.Now().Before(deadline) {
				t0 := time.Now()
				req, _ := http.NewRequest(http.MethodPost, *url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				ok := err == nil
				if err == nil {
					answer, readErr := io.ReadAll(resp.Body)
					resp.Body.Close()
					ok = readErr == nil && resp.StatusCode == 200 && !bytes.Contains(answer, errorsKey)
				}
				latencies[i] = append(latencies[i], time.Since(t0))
				if !ok {
					failed[i]++
				}
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(started).Seconds()
	var all []time.Duration
	out := result{Seconds: elapsed}
	for i := range latencies {
		all = append(all, latencies[i]...)
		out.Failed += failed[i]
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	out.Requests = len(all)
	if len(all) > 0 {
		at := func(q float64) float64 {
			k := int(q * float64(len(all)))
			if k >= len(all) {
				k = len(all) - 1
			}
			return float64(all[k].Microseconds()) / 1000
		}
		out.RPS = float64(len(all)) / elapsed
		out.P50Ms, out.P90Ms, out.P99Ms = at(0.50), at(0.90), at(0.99)
		out.MaxMs = float64(all[len(all)-1].Microseconds()) / 1000
	}
	line, _ := json.Marshal(out)
	fmt.Println(string(line))
}
