package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of CPU times in /proc (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpuSnapshot is the CPU time used so far by the processes of the machine
// that a scenario involves, from /proc (Linux only; empty elsewhere).
type cpuSnapshot struct {
	byName map[string]time.Duration // postgres, redis-server, …
	apiws  time.Duration            // the server under test
	self   time.Duration            // this load tool
	busy   time.Duration            // the whole machine, all cores
	ok     bool
}

// takeCPU reads the CPU times of every process and of the machine.
func takeCPU(apiwsPID int) cpuSnapshot {
	s := cpuSnapshot{byName: map[string]time.Duration{}}
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(stats) == 0 {
		return s
	}
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the process ended meanwhile
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
		line := string(b)
		open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
		if open < 0 || end < open {
			continue
		}
		// After the command: state is field 3, utime to cstime 14 to 17.
		f := strings.Fields(line[end+1:])
		if len(f) < 15 {
			continue
		}
		// utime, stime, then cutime and cstime: the time of children that
		// ended (PostgreSQL's backends, once they exit, count in their
		// postmaster's).
		var used time.Duration
		for _, field := range f[11:15] {
			n, _ := strconv.ParseInt(field, 10, 64)
			used += time.Duration(n) * clockTick
		}
		switch pid {
		case apiwsPID:
			s.apiws += used
		case os.Getpid():
			s.self += used
		default:
			s.byName[line[open+1:end]] += used
		}
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		first, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(first) // cpu user nice system idle iowait irq softirq steal …
		for i, v := range f[1:] {
			if i == 3 || i == 4 { // idle, iowait
				continue
			}
			n, _ := strconv.ParseInt(v, 10, 64)
			s.busy += time.Duration(n) * clockTick
		}
	}
	s.ok = true
	return s
}

// cpuUse is the CPU time each part took between two snapshots.
type cpuUse struct {
	apiws, postgres, redis, load, busy time.Duration
	wall                               time.Duration
}

func cpuBetween(a, b cpuSnapshot, wall time.Duration) (cpuUse, bool) {
	if !a.ok || !b.ok {
		return cpuUse{}, false
	}
	return cpuUse{
		apiws:    b.apiws - a.apiws,
		postgres: b.byName["postgres"] - a.byName["postgres"],
		redis:    b.byName["redis-server"] - a.byName["redis-server"],
		load:     b.self - a.self,
		busy:     b.busy - a.busy,
		wall:     wall,
	}, true
}

// per divides each part by n (messages or transactions), in milliseconds.
func (u cpuUse) per(n float64) (apiws, postgres, redis, load, busy float64) {
	ms := func(d time.Duration) float64 { return d.Seconds() * 1000 / n }
	return ms(u.apiws), ms(u.postgres), ms(u.redis), ms(u.load), ms(u.busy)
}

// cores is how many cores the machine was busy on average.
func (u cpuUse) cores() float64 { return u.busy.Seconds() / u.wall.Seconds() }
