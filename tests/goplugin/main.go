// goplugin: checks that a Nomad task-driver plugin binary speaks go-plugin the
// way Nomad's client library expects, using that library itself
// (github.com/hashicorp/go-plugin as packaged by Debian) rather than a
// re-implementation of it.
//
// Usage: goplugin /path/to/nomad-driver-sworn
//
// What is checked (see shared reference nomad-driver-protocol.md §1, §2, §8):
//   - without the magic cookie (and with a wrong one) the binary writes a
//     message on stderr, nothing on stdout, and exits 1;
//   - started by hand with the cookie, the first stdout line is a handshake
//     `1|2|unix|/abs/socket|grpc|` and the socket exists; a plain gRPC client
//     can call plugin.GRPCController/Shutdown (OK, or UNAVAILABLE as the
//     server closes, like go-plugin's own server) and the process then exits 0 and
//     removes its socket;
//   - started by plugin.NewClient with Nomad's handshake config (twice, as Nomad
//     launches a plugin several times): the handshake is accepted, Ping()
//     (grpc.health.v1 Check of service "plugin") succeeds and reports SERVING,
//     BasePlugin/PluginInfo answers type DRIVER (2), api version "v0.1.0", a
//     version and a name containing "sworn"; Kill() (GRPCController/Shutdown,
//     then SIGKILL after 2 s) ends the process by itself, with status 0, and
//     the socket file is gone.
//
// Prints one PASS/FAIL line per check and a closing "N passed, N failed" line;
// exits 1 if anything failed.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
)

const (
	cookieKey   = "NOMAD_PLUGIN_MAGIC_COOKIE"
	cookieValue = "e4327c2e01eabfd75a8a67adb114fb34a757d57eee7728d857a8cec6e91a7255"

	pluginInfoMethod = "/hashicorp.nomad.plugins.base.proto.BasePlugin/PluginInfo"
	shutdownMethod   = "/plugin.GRPCController/Shutdown"

	rpcTimeout = 10 * time.Second
)

// Nomad's handshake (plugins/base/plugin.go in Nomad).
var handshake = plugin.HandshakeConfig{
	ProtocolVersion:  2,
	MagicCookieKey:   cookieKey,
	MagicCookieValue: cookieValue,
}

var (
	passed, failed int
	pluginPath     string

	// Every plugin process this program starts, so the watchdog can kill
	// them if something hangs.
	childMu  sync.Mutex
	children []*exec.Cmd
)

func pass(format string, a ...interface{}) {
	passed++
	fmt.Printf("PASS: "+format+"\n", a...)
}

func fail(format string, a ...interface{}) {
	failed++
	fmt.Printf("FAIL: "+format+"\n", a...)
}

func check(ok bool, what string, detail string, a ...interface{}) bool {
	if ok {
		pass("%s", what)
	} else {
		fail("%s: %s", what, fmt.Sprintf(detail, a...))
	}
	return ok
}

// prepare puts the plugin in a process group of its own, so that whatever it
// leaves behind can be found and killed, and remembers it for the watchdog.
func prepare(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	childMu.Lock()
	children = append(children, cmd)
	childMu.Unlock()
}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// checkNoLeftovers fails if processes of the plugin's group outlive it.
func checkNoLeftovers(label string, pgid int) {
	err := syscall.Kill(-pgid, 0)
	if !check(err == syscall.ESRCH, label+": no process of the plugin's group is left", "kill(-%d, 0) = %v", pgid, err) {
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

// ---------------------------------------------------------------------------
// A codec that passes message bytes through, so the test depends on no
// generated code for Nomad's protos: requests are written and responses read
// with protowire. Named "proto" so the content-type stays application/grpc+proto.

type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
	}
	return *b, nil
}

func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	*b = append([]byte(nil), data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

func invokeRaw(conn *grpc.ClientConn, method string, req []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	defer cancel()
	var resp []byte
	err := conn.Invoke(ctx, method, &req, &resp, grpc.ForceCodec(rawCodec{}))
	return resp, err
}

// ---------------------------------------------------------------------------
// The "driver" plugin entry: GRPCClient hands back the connection itself.

type driverPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (driverPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("goplugin test: client side only")
}

func (driverPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return c, nil
}

// ---------------------------------------------------------------------------
// PluginInfoResponse { PluginType type = 1; repeated string plugin_api_versions = 2;
//                      string plugin_version = 3; string name = 4; }

type pluginInfo struct {
	Type        uint64
	APIVersions []string
	Version     string
	Name        string
}

func decodePluginInfo(b []byte) (pluginInfo, error) {
	var pi pluginInfo
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return pi, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return pi, protowire.ParseError(m)
			}
			pi.Type, b = v, b[m:]
		case num >= 2 && num <= 4 && typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return pi, protowire.ParseError(m)
			}
			b = b[m:]
			switch num {
			case 2:
				pi.APIVersions = append(pi.APIVersions, string(v))
			case 3:
				pi.Version = string(v)
			case 4:
				pi.Name = string(v)
			}
		case num >= 1 && num <= 4:
			return pi, fmt.Errorf("field %d has wire type %d", num, typ)
		default: // unknown field: skip
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return pi, protowire.ParseError(m)
			}
			b = b[m:]
		}
	}
	return pi, nil
}

// Loose form of what hashicorp/go-version accepts (Nomad parses plugin_version with it).
var versionRE = regexp.MustCompile(`^v?[0-9]+(\.[0-9]+)*(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// ---------------------------------------------------------------------------
// Helpers about processes and sockets.

func envWithout(keys ...string) []string {
	var out []string
outer:
	for _, kv := range os.Environ() {
		for _, k := range keys {
			if strings.HasPrefix(kv, k+"=") {
				continue outer
			}
		}
		out = append(out, kv)
	}
	return out
}

func isSocket(path string) bool {
	st, err := os.Lstat(path)
	return err == nil && st.Mode()&os.ModeSocket != 0
}

func describeExit(st *os.ProcessState) string {
	if st == nil {
		return "not reaped"
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Sprintf("killed by signal %v", ws.Signal())
	}
	return fmt.Sprintf("exit status %d", st.ExitCode())
}

func cleanExit(st *os.ProcessState) bool {
	if st == nil {
		return false
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return false
	}
	return st.ExitCode() == 0
}

// waitTimeout waits for cmd; on timeout it SIGKILLs it and reports false.
func waitTimeout(cmd *exec.Cmd, d time.Duration) bool {
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		killGroup(cmd)
		<-done
		return false
	}
}

// ---------------------------------------------------------------------------
// 1. Run directly, as a user would: a message on stderr, nothing on stdout, exit 1.

func checkNoCookie(label string, env []string) {
	cmd := exec.Command(pluginPath)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	prepare(cmd)
	if err := cmd.Start(); err != nil {
		fail("%s: cannot start %s: %v", label, pluginPath, err)
		return
	}
	defer killGroup(cmd)
	if !waitTimeout(cmd, rpcTimeout) {
		fail("%s: still running after %v (it should refuse to start); stdout %q", label, rpcTimeout, stdout.String())
		return
	}
	st := cmd.ProcessState
	check(!st.Sys().(syscall.WaitStatus).Signaled() && st.ExitCode() == 1,
		label+": exits with status 1", "got %s", describeExit(st))
	check(strings.TrimSpace(stderr.String()) != "", label+": prints a message on stderr", "stderr was empty")
	check(stdout.Len() == 0, label+": prints nothing on stdout", "stdout was %q", stdout.String())
	if msg := strings.TrimSpace(stderr.String()); msg != "" {
		first := strings.SplitN(msg, "\n", 2)[0]
		fmt.Printf("      (stderr: %q)\n", first)
	}
}

// ---------------------------------------------------------------------------
// 2. Raw launch: the exact handshake line, and Shutdown called by a plain client.

var handshakeRE = regexp.MustCompile(`^1\|2\|unix\|(/[^|]+)\|grpc(\|[^|]*)?$`)

func checkRawLaunch() {
	cmd := exec.Command(pluginPath)
	cmd.Env = append(envWithout(cookieKey, "PLUGIN_PROTOCOL_VERSIONS"),
		cookieKey+"="+cookieValue, "PLUGIN_MIN_PORT=10000", "PLUGIN_MAX_PORT=25000",
		"PLUGIN_PROTOCOL_VERSIONS=2")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fail("raw launch: %v", err)
		return
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	prepare(cmd)
	if err := cmd.Start(); err != nil {
		fail("raw launch: cannot start %s: %v", pluginPath, err)
		return
	}
	defer func() {
		if cmd.ProcessState == nil {
			killGroup(cmd)
			cmd.Wait()
		}
	}()

	lineCh := make(chan string, 1)
	rest := make(chan struct{})
	go func() {
		r := bufio.NewReader(stdout)
		line, err := r.ReadString('\n')
		if err != nil && line != "" {
			line += "<no newline>"
		}
		lineCh <- line
		io.Copy(io.Discard, r)
		close(rest)
	}()
	var line string
	select {
	case line = <-lineCh:
	case <-time.After(30 * time.Second):
		fail("raw launch: no handshake line on stdout within 30s; stderr: %q", stderr.String())
		return
	}
	if !strings.HasSuffix(line, "\n") {
		fail("raw launch: first stdout line %q is not a newline-terminated line; stderr: %q", line, stderr.String())
		return
	}
	line = strings.TrimSuffix(line, "\n")
	m := handshakeRE.FindStringSubmatch(line)
	if !check(m != nil, "raw launch: first stdout line is a handshake `1|2|unix|/path|grpc|`",
		"got %q", line) {
		return
	}
	fmt.Printf("      (handshake: %q)\n", line)
	sock := m[1]
	check(len(sock) < 108, "raw launch: socket path fits in sun_path", "%d bytes", len(sock))
	if !check(isSocket(sock), "raw launch: socket "+sock+" exists", "not a socket") {
		return
	}

	conn, err := grpc.Dial("unused", grpc.WithInsecure(), grpc.WithBlock(),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}))
	if !check(err == nil, "raw launch: plain gRPC client connects to the socket", "%v", err) {
		return
	}
	defer conn.Close()
	// go-plugin's own Go server stops its gRPC server inside the handler, so
	// the caller sees UNAVAILABLE; its client ignores the result. Accept both.
	_, err = invokeRaw(conn, shutdownMethod, nil)
	check(err == nil || status.Code(err) == codes.Unavailable,
		"raw launch: "+shutdownMethod+" is accepted", "%v", err)
	if err != nil {
		fmt.Printf("      (Shutdown answered %v)\n", err)
	}

	if !waitTimeout(cmd, 5*time.Second) {
		fail("raw launch: process still running 5s after Shutdown (killed now)")
		return
	}
	<-rest
	check(cleanExit(cmd.ProcessState), "raw launch: process exits 0 after Shutdown", "%s; stderr: %q",
		describeExit(cmd.ProcessState), stderr.String())
	check(!exists(sock), "raw launch: socket removed on exit", "%s still exists", sock)
	checkNoLeftovers("raw launch", cmd.Process.Pid)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return !os.IsNotExist(err)
}

// ---------------------------------------------------------------------------
// 3. The go-plugin client, configured as Nomad configures it.

func checkGoPluginClient(label string, logger hclog.Logger) {
	cmd := exec.Command(pluginPath)
	cmd.Env = envWithout(cookieKey)
	prepare(cmd)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  handshake,
		Plugins:          map[string]plugin.Plugin{"driver": driverPlugin{}},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           logger.Named(label),
		StartTimeout:     30 * time.Second,
	})
	killed := false
	defer func() {
		if !killed {
			client.Kill()
		}
		killGroup(cmd)
	}()

	rpcClient, err := client.Client()
	if !check(err == nil, label+": go-plugin handshake accepted (client.Client())", "%v", err) {
		return
	}
	rc := client.ReattachConfig()
	if !check(rc != nil && rc.Addr != nil, label+": client has an address", "ReattachConfig is %+v", rc) {
		return
	}
	check(rc.Protocol == plugin.ProtocolGRPC, label+": negotiated protocol grpc", "got %q", rc.Protocol)
	check(client.NegotiatedVersion() == 2, label+": negotiated app protocol version 2", "got %d", client.NegotiatedVersion())
	sock := rc.Addr.String()
	check(rc.Addr.Network() == "unix" && filepath.IsAbs(sock), label+": unix socket at an absolute path",
		"got %s %q", rc.Addr.Network(), sock)
	check(isSocket(sock), label+": socket "+sock+" exists", "not a socket")
	pid := rc.Pid
	fmt.Printf("      (%s: pid %d, socket %s)\n", label, pid, sock)

	if err := rpcClient.Ping(); !check(err == nil, label+": Ping() (grpc.health.v1.Health/Check \"plugin\")", "%v", err) {
		return
	}

	raw, err := rpcClient.Dispense("driver")
	if !check(err == nil, label+": Dispense(\"driver\")", "%v", err) {
		return
	}
	conn, ok := raw.(*grpc.ClientConn)
	if !check(ok, label+": Dispense returns the gRPC connection", "got %T", raw) {
		return
	}

	// Ping only looks at the error; check the status too.
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	hr, err := grpc_health_v1.NewHealthClient(conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: plugin.GRPCServiceName})
	cancel()
	if check(err == nil, label+": health Check(\"plugin\") answers", "%v", err) {
		check(hr.GetStatus() == grpc_health_v1.HealthCheckResponse_SERVING, label+": health status of \"plugin\" is SERVING",
			"got %v", hr.GetStatus())
	}

	resp, err := invokeRaw(conn, pluginInfoMethod, nil)
	if check(err == nil, label+": "+pluginInfoMethod+" (empty request) succeeds", "%v", err) {
		pi, derr := decodePluginInfo(resp)
		if check(derr == nil, label+": PluginInfoResponse decodes", "%v (bytes %x)", derr, resp) {
			fmt.Printf("      (%s: PluginInfo type=%d api_versions=%q version=%q name=%q)\n",
				label, pi.Type, pi.APIVersions, pi.Version, pi.Name)
			check(pi.Type == 2, label+": PluginInfo type is DRIVER (2)", "got %d", pi.Type)
			hasAPI := false
			for _, v := range pi.APIVersions {
				hasAPI = hasAPI || v == "v0.1.0"
			}
			check(hasAPI, label+": PluginInfo plugin_api_versions contains \"v0.1.0\"", "got %q", pi.APIVersions)
			check(versionRE.MatchString(pi.Version), label+": PluginInfo plugin_version is a version number",
				"got %q", pi.Version)
			check(strings.Contains(pi.Name, "sworn"), label+": PluginInfo name contains \"sworn\"", "got %q", pi.Name)
		}
	}

	// Kill: GRPCController/Shutdown, wait up to 2 s for the process to exit, else SIGKILL.
	start := time.Now()
	client.Kill()
	killed = true
	took := time.Since(start)
	check(client.Exited(), label+": plugin process has exited after Kill()", "client.Exited() is false")
	check(cleanExit(cmd.ProcessState), label+": plugin exited by itself with status 0 after Kill() (no SIGKILL)",
		"%s after %v", describeExit(cmd.ProcessState), took.Round(time.Millisecond))
	if pid > 0 {
		err := syscall.Kill(pid, 0)
		check(err == syscall.ESRCH, label+": pid is gone", "kill(%d, 0) = %v", pid, err)
	}
	check(!exists(sock), label+": socket file removed", "%s still exists", sock)
	if pid > 0 {
		checkNoLeftovers(label, pid)
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintf(os.Stderr, "usage: %s /path/to/nomad-driver-plugin\n", os.Args[0])
		os.Exit(2)
	}
	pluginPath = os.Args[1]
	if st, err := os.Stat(pluginPath); err != nil || st.Mode()&0o111 == 0 {
		fmt.Printf("FAIL: %s is not an executable file (%v)\n", pluginPath, err)
		os.Exit(1)
	}

	// Watchdog: never leave a plugin process behind.
	go func() {
		time.Sleep(3 * time.Minute)
		fmt.Println("FAIL: goplugin test timed out after 3 minutes")
		childMu.Lock()
		for _, c := range children {
			killGroup(c)
		}
		os.Exit(1)
	}()

	logger := hclog.New(&hclog.LoggerOptions{
		Name:   "goplugin",
		Output: os.Stderr,
		Level:  hclog.Debug,
	})

	fmt.Printf("goplugin: testing %s with go-plugin (Nomad handshake v2, grpc only)\n", pluginPath)
	checkNoCookie("no cookie", envWithout(cookieKey))
	checkNoCookie("wrong cookie", append(envWithout(cookieKey), cookieKey+"=not-the-cookie"))
	checkRawLaunch()
	checkGoPluginClient("launch 1", logger)
	checkGoPluginClient("launch 2", logger)

	fmt.Printf("goplugin: %d passed, %d failed\n", passed, failed)
	if failed > 0 || passed == 0 {
		os.Exit(1)
	}
}
