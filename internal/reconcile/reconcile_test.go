package reconcile

import (
	"fmt"
	"testing"
)

func TestShardsPartition(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7} {
		owners := map[string]int{}
		for i := 0; i < n; i++ {
			s := Shard{Index: i, Count: n}
			for p := 0; p < 3; p++ {
				for id := 0; id < 2000; id++ {
					key := fmt.Sprintf("amzn1.comms.csp.id.%d/%d", p, id)
					if s.Has(fmt.Sprintf("amzn1.comms.csp.id.%d", p), fmt.Sprint(id)) {
						owners[key]++
					}
				}
			}
		}
		if len(owners) != 6000 {
			t.Errorf("%d shards cover %d of 6000 keys", n, len(owners))
		}
		for k, c := range owners {
			if c != 1 {
				t.Errorf("%d shards: %s in %d shards", n, k, c)
			}
		}
	}
	// Stable across releases: the pods of a migration, and a rerun with a
	// newer bulksync, must agree on the split. These are FNV-1a's answers.
	for id, want := range map[string]int{"7201": shardOf("7201"), "7202": shardOf("7202")} {
		if !(Shard{Index: want, Count: 4}).Has("amzn1.comms.csp.id.demo", id) {
			t.Errorf("%s moved shard", id)
		}
	}
}

func TestParseShardAndLimit(t *testing.T) {
	for in, ok := range map[string]bool{"0/4": true, "3/4": true, "4/4": false, "-1/4": false, "1": false, "a/b": false, "0/0": false} {
		if _, err := ParseShard(in); (err == nil) != ok {
			t.Errorf("ParseShard(%q): err %v, want ok %v", in, err, ok)
		}
	}
	tests := []struct {
		in       string
		existing int
		want     int
	}{
		{"10%", 120, 12}, {"10%", 9, 0}, {"5", 1000, 5}, {"-1", 10, int(^uint(0) >> 1)}, {"0", 10, 0}, {"12.5%", 40, 5},
	}
	for _, tt := range tests {
		l, err := ParseLimit(tt.in)
		if err != nil {
			t.Fatalf("ParseLimit(%q): %v", tt.in, err)
		}
		if got := l.Max(tt.existing); got != tt.want {
			t.Errorf("ParseLimit(%q).Max(%d): got %d, want %d", tt.in, tt.existing, got, tt.want)
		}
	}
	for _, bad := range []string{"", "ten", "-5", "150%", "x%"} {
		if _, err := ParseLimit(bad); err == nil {
			t.Errorf("ParseLimit(%q): want an error", bad)
		}
	}
}

// shardOf recomputes FNV-1a by hand, independently of Has.
func shardOf(id string) int {
	var h uint64 = 14695981039346656037
	for _, c := range []byte("amzn1.comms.csp.id.demo\x00" + id) {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return int(h % 4)
}
