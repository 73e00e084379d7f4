//! A network of hosts on one machine: Linux network namespaces, one per
//! host, each with its own address from 198.18.0.0/15 (reserved for
//! benchmarking networks) on a veth pair to a bridge in a "switch"
//! namespace of the lab's own. Nothing is connected to the machine's own
//! network: traffic goes only between the lab's namespaces.
//!
//! Links can be cut and mended (the switch's port of a host down or up),
//! lose packets (`iptables -m statistic` inside the host), and be slowed:
//! this kernel has no `netem`, so delay and jitter come from a relay in
//! the node's namespace that every TCP connection from the node to the
//! head is redirected through (`iptables -t nat ... REDIRECT`), which
//! holds each chunk of bytes for the link's one-way delay in each
//! direction. Programs keep connecting to the head's own address.
//!
//! Needs root, `ip` (iproute2) and, for loss and delay, iptables. A lab is
//! removed on drop, also when a test panics; labs left by a process that
//! died are removed by the next one made.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// Namespaces of labs made by tests: `faaslab<subnet>-<pid>-<host>`.
const TEST_PREFIX: &str = "faaslab";
/// The firewall mark of the relay's own connections, which the redirect
/// rule lets through.
pub const RELAY_MARK: u32 = 0x66;

/// One host of a lab.
#[derive(Clone, Debug)]
pub struct Host {
    /// `head`, `node1`, `node2`, ...
    pub name: String,
    /// Its network namespace.
    pub netns: String,
    /// Its address (its only interface, `eth0`, is on the lab's bridge).
    pub addr: Ipv4Addr,
}

impl Host {
    /// `program` to be run inside this host (`ip netns exec`, which execs
    /// in place: the child's pid is the program's).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.netns]).arg(program);
        cmd
    }

    /// Moves the calling thread into this host's namespace until the
    /// guard drops: sockets it opens, threads it starts and processes it
    /// spawns are on this host.
    pub fn enter(&self) -> Result<Entered> {
        let own = std::fs::File::open("/proc/thread-self/ns/net").context("own namespace")?;
        let target = std::fs::File::open(format!("/var/run/netns/{}", self.netns))
            .with_context(|| format!("namespace {}", self.netns))?;
        setns(&target)?;
        Ok(Entered { own })
    }
}

/// The calling thread's own namespace, returned to on drop.
pub struct Entered {
    own: std::fs::File,
}

impl Drop for Entered {
    fn drop(&mut self) {
        let _ = setns(&self.own);
    }
}

fn setns(file: &std::fs::File) -> Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid descriptor of a network namespace; setns changes
    // only the calling thread's namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        bail!("setns: {}", std::io::Error::last_os_error());
    }
    Ok(())
}

/// A head host and `nodes` node hosts on one bridge.
pub struct Lab {
    pub head: Host,
    pub nodes: Vec<Host>,
    switch: String,
    relays: Vec<Child>,
    removed: Vec<String>,
    /// Made by `faas-netlab up`: kept until `faas-netlab down`.
    persistent: bool,
}

/// True if this process may make namespaces (root, with `ip` installed).
pub fn available() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    root && Command::new("ip")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Lab {
    /// A lab for this test process, on a /24 of 198.18.0.0/15 that no other
    /// lab uses; removed on drop.
    pub fn create(nodes: usize) -> Result<Lab> {
        remove_stale_labs();
        let pid = std::process::id();
        for subnet in 1..=250u8 {
            let prefix = format!("{TEST_PREFIX}{subnet}-");
            if namespaces().iter().any(|n| n.starts_with(&prefix)) {
                continue;
            }
            let name = format!("{TEST_PREFIX}{subnet}-{pid}");
            // `ip netns add` fails if another process took the name first.
            if run("ip", &["netns", "add", &format!("{name}-sw")]).is_err() {
                continue;
            }
            return Lab::build(&name, subnet, nodes, false);
        }
        bail!("no free subnet of 198.18.0.0/16 for a lab")
    }

    /// The lab `faas-netlab up` makes: `netlab-head`, `netlab-node1`, ...
    /// on 198.18.0.0/24, kept until [`Lab::remove_persistent`].
    pub fn create_persistent(nodes: usize) -> Result<Lab> {
        if namespaces().iter().any(|n| n.starts_with("netlab-")) {
            bail!("a lab is up already (scripts/netlab.sh down removes it)");
        }
        run("ip", &["netns", "add", "netlab-sw"])?;
        Lab::build("netlab", 0, nodes, true)
    }

    /// Removes the lab `faas-netlab up` made, with every process in it.
    pub fn remove_persistent() -> usize {
        let names: Vec<String> = namespaces()
            .into_iter()
            .filter(|n| n.starts_with("netlab-"))
            .collect();
        for name in &names {
            kill_everything_in(name);
            let _ = run("ip", &["netns", "del", name]);
        }
        names.len()
    }

    /// The lab `faas-netlab up` made, to act on.
    pub fn open_persistent() -> Result<Lab> {
        let names = namespaces();
        if !names.iter().any(|n| n == "netlab-head") {
            bail!("no lab is up (scripts/netlab.sh up makes one)");
        }
        let nodes = (1..)
            .take_while(|i| names.iter().any(|n| *n == format!("netlab-node{i}")))
            .count();
        Ok(Lab {
            head: host("netlab", 0, "head", 1),
            nodes: (1..=nodes)
                .map(|i| host("netlab", 0, &format!("node{i}"), 10 + i as u8))
                .collect(),
            switch: "netlab-sw".into(),
            relays: Vec::new(),
            removed: Vec::new(),
            persistent: true,
        })
    }

    fn build(name: &str, subnet: u8, nodes: usize, persistent: bool) -> Result<Lab> {
        let mut lab = Lab {
            head: host(name, subnet, "head", 1),
            nodes: (1..=nodes)
                .map(|i| host(name, subnet, &format!("node{i}"), 10 + i as u8))
                .collect(),
            switch: format!("{name}-sw"),
            relays: Vec::new(),
            removed: Vec::new(),
            persistent: false,
        };
        // Until built, a failure removes what was made.
        lab.wire()?;
        lab.persistent = persistent;
        Ok(lab)
    }

    fn wire(&self) -> Result<()> {
        let sw = &self.switch;
        run("ip", &["-n", sw, "link", "add", "br0", "type", "bridge"])?;
        run("ip", &["-n", sw, "link", "set", "br0", "up"])?;
        for host in self.hosts() {
            run("ip", &["netns", "add", &host.netns])?;
            run(
                "ip",
                &[
                    "link",
                    "add",
                    "eth0",
                    "netns",
                    &host.netns,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    &host.name,
                    "netns",
                    sw,
                ],
            )?;
            run(
                "ip",
                &["-n", sw, "link", "set", &host.name, "master", "br0", "up"],
            )?;
            let addr = format!("{}/24", host.addr);
            run(
                "ip",
                &["-n", &host.netns, "addr", "add", &addr, "dev", "eth0"],
            )?;
            run("ip", &["-n", &host.netns, "link", "set", "eth0", "up"])?;
            run("ip", &["-n", &host.netns, "link", "set", "lo", "up"])?;
        }
        Ok(())
    }

    /// The head, then the nodes.
    pub fn hosts(&self) -> impl Iterator<Item = &Host> {
        std::iter::once(&self.head).chain(self.nodes.iter())
    }

    /// The host named `name`.
    pub fn host(&self, name: &str) -> Result<&Host> {
        self.hosts()
            .find(|h| h.name == name)
            .with_context(|| format!("no host {name} in the lab"))
    }

    /// Takes `host`'s link down (its port on the switch): nothing reaches
    /// it or leaves it; its connections stay open, silent.
    pub fn cut(&self, host: &Host) -> Result<()> {
        run(
            "ip",
            &["-n", &self.switch, "link", "set", &host.name, "down"],
        )
    }

    /// Brings `host`'s link back.
    pub fn mend(&self, host: &Host) -> Result<()> {
        run("ip", &["-n", &self.switch, "link", "set", &host.name, "up"])
    }

    /// Drops each packet `host` sends or receives on its link with
    /// `probability` (0 clears it).
    pub fn set_loss(&self, host: &Host, probability: f64) -> Result<()> {
        let ipt = iptables();
        let _ = run_in(&host.netns, ipt, &["-F", "INPUT"]);
        let _ = run_in(&host.netns, ipt, &["-F", "OUTPUT"]);
        if probability <= 0.0 {
            return Ok(());
        }
        let p = format!("{probability}");
        for (chain, dir) in [("INPUT", "-i"), ("OUTPUT", "-o")] {
            run_in(
                &host.netns,
                ipt,
                &[
                    "-A",
                    chain,
                    dir,
                    "eth0",
                    "-m",
                    "statistic",
                    "--mode",
                    "random",
                    "--probability",
                    &p,
                    "-j",
                    "DROP",
                ],
            )?;
        }
        Ok(())
    }

    /// Packets dropped so far by [`Lab::set_loss`]'s rules on `host`.
    pub fn dropped(&self, host: &Host) -> Result<u64> {
        let out = host
            .command(iptables())
            .args(["-L", "-v", "-x", "-n"])
            .output()
            .context("iptables -L")?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("DROP") && l.contains("statistic"))
            .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
            .sum())
    }

    /// Slows every TCP connection from `host` to the head: each direction
    /// holds its bytes for `delay` plus up to `jitter` (in order), so a
    /// round trip takes twice that. `relay_bin` is the `faas-netlab`
    /// binary, whose `relay` command runs in the host.
    pub fn delay(
        &mut self,
        host: &Host,
        delay: Duration,
        jitter: Duration,
        relay_bin: &Path,
    ) -> Result<()> {
        let port = 7999u16;
        let child = host
            .command(relay_bin)
            .args([
                "relay",
                &format!("127.0.0.1:{port}"),
                &delay.as_millis().to_string(),
                &jitter.as_millis().to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the relay")?;
        self.relays.push(child);
        wait_listening(host, port)?;
        let head = self.head.addr.to_string();
        let mark = format!("0x{RELAY_MARK:x}");
        run_in(
            &host.netns,
            iptables(),
            &[
                "-t",
                "nat",
                "-A",
                "OUTPUT",
                "-p",
                "tcp",
                "-d",
                &head,
                "-m",
                "mark",
                "!",
                "--mark",
                &mark,
                "-j",
                "REDIRECT",
                "--to-ports",
                &port.to_string(),
            ],
        )
    }

    /// The median of `samples` TCP round trips of one byte from `host` to
    /// the head: the link's own round trip, for comparison with the
    /// platform's.
    pub fn link_round_trip(&self, host: &Host, samples: usize) -> Result<Duration> {
        use std::io::{Read, Write};
        let listener = {
            let _inside = self.head.enter()?;
            std::net::TcpListener::bind((self.head.addr, 0))?
        };
        let addr = listener.local_addr()?;
        let echo = std::thread::spawn(move || -> std::io::Result<()> {
            let (mut conn, _) = listener.accept()?;
            conn.set_nodelay(true)?;
            let mut byte = [0u8; 1];
            while conn.read(&mut byte)? == 1 {
                conn.write_all(&byte)?;
            }
            Ok(())
        });
        let mut times = std::thread::scope(|s| {
            s.spawn(|| -> Result<Vec<Duration>> {
                let _inside = host.enter()?;
                let mut conn = std::net::TcpStream::connect(addr)?;
                conn.set_nodelay(true)?;
                let mut byte = [0u8; 1];
                let mut times = Vec::with_capacity(samples);
                for _ in 0..samples.max(1) {
                    let started = std::time::Instant::now();
                    conn.write_all(&byte)?;
                    conn.read_exact(&mut byte)?;
                    times.push(started.elapsed());
                }
                Ok(times)
            })
            .join()
            .unwrap_or_else(|_| bail!("the probe panicked"))
        })?;
        let _ = echo.join();
        times.sort();
        Ok(times[times.len() / 2])
    }

    /// Deletes `host`'s namespace (and with it its link). Stop what runs
    /// there first: a process keeps a deleted namespace alive.
    pub fn remove(&mut self, host: &Host) -> Result<()> {
        run("ip", &["netns", "del", &host.netns])?;
        self.removed.push(host.netns.clone());
        Ok(())
    }

    fn teardown(&mut self) {
        for mut relay in self.relays.drain(..) {
            let _ = relay.kill();
            let _ = relay.wait();
        }
        let names: Vec<String> = self
            .hosts()
            .map(|h| h.netns.clone())
            .chain(std::iter::once(self.switch.clone()))
            .filter(|n| !self.removed.contains(n))
            .collect();
        for name in names {
            let _ = run("ip", &["netns", "del", &name]);
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if !self.persistent {
            self.teardown();
        }
    }
}

fn host(lab: &str, subnet: u8, name: &str, last: u8) -> Host {
    Host {
        name: name.to_string(),
        netns: format!("{lab}-{name}"),
        addr: Ipv4Addr::new(198, 18, subnet, last),
    }
}

/// The machine's network namespaces, by name.
fn namespaces() -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output();
    let Ok(out) = out else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Removes test labs whose process is gone (killed before its drop ran),
/// with what still runs in them.
fn remove_stale_labs() {
    for name in namespaces() {
        let Some(rest) = name.strip_prefix(TEST_PREFIX) else {
            continue;
        };
        let pid = rest.split('-').nth(1).and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                kill_everything_in(&name);
                let _ = run("ip", &["netns", "del", &name]);
            }
        }
    }
}

/// SIGKILL to every process in a namespace of a lab (ours: the lab made it).
fn kill_everything_in(netns: &str) {
    let Ok(out) = Command::new("ip").args(["netns", "pids", netns]).output() else {
        return;
    };
    for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        if let Ok(pid) = pid.parse::<i32>() {
            // SAFETY: a plain signal to a pid listed in our own namespace.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// iptables speaking to this kernel's x_tables (Debian's default speaks
/// nftables, which this kernel may lack).
fn iptables() -> &'static str {
    if Path::new("/usr/sbin/iptables-legacy").exists() {
        "iptables-legacy"
    } else {
        "iptables"
    }
}

fn run(program: &str, args: &[&str]) -> Result<()> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {program} (install iproute2 and iptables)"))?;
    if !out.status.success() {
        bail!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn run_in(netns: &str, program: &str, args: &[&str]) -> Result<()> {
    let mut all = vec!["netns", "exec", netns, program];
    all.extend_from_slice(args);
    run("ip", &all)
}

/// Waits until something listens on `port` of `host`'s loopback.
fn wait_listening(host: &Host, port: u16) -> Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
    let probe = std::thread::scope(|s| {
        s.spawn(|| -> Result<()> {
            let _inside = host.enter()?;
            while std::time::Instant::now() < deadline {
                if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            bail!("the relay in {} does not listen on {port}", host.name)
        })
        .join()
    });
    probe.unwrap_or_else(|_| bail!("probe thread panicked"))
}

pub mod relay {
    //! The delaying relay: accepts connections redirected to it, connects
    //! to each one's original destination (marked, so the redirect lets it
    //! through) and copies both ways, each chunk released `delay` plus up
    //! to `jitter` after it was read, never before the one read before it.
    //! Plain threads that sleep to the microsecond: a runtime's timer
    //! rounds to the millisecond, which would lengthen every link.

    use std::io::{Read, Write};
    use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use anyhow::{bail, Context, Result};

    /// Serves until the process is killed.
    pub fn serve(listen: SocketAddr, delay: Duration, jitter: Duration) -> Result<()> {
        let listener = TcpListener::bind(listen).context("relay bind")?;
        for inbound in listener.incoming() {
            let Ok(inbound) = inbound else { continue };
            std::thread::spawn(move || {
                if let Err(e) = connection(inbound, delay, jitter) {
                    eprintln!("relay: {e:#}");
                }
            });
        }
        Ok(())
    }

    fn connection(inbound: TcpStream, delay: Duration, jitter: Duration) -> Result<()> {
        // A connection made to the relay itself (a readiness probe) has
        // nowhere to go.
        let Ok(target) = original_destination(&inbound) else {
            return Ok(());
        };
        let outbound = connect_marked(target, super::RELAY_MARK)?;
        inbound.set_nodelay(true)?;
        outbound.set_nodelay(true)?;
        let up = {
            let (from, to) = (inbound.try_clone()?, outbound.try_clone()?);
            std::thread::spawn(move || pump(from, to, delay, jitter))
        };
        pump(outbound, inbound, delay, jitter);
        let _ = up.join();
        Ok(())
    }

    /// Copies `from` to `to` through a delay line.
    fn pump(mut from: TcpStream, mut to: TcpStream, delay: Duration, jitter: Duration) {
        let (tx, rx) = mpsc::sync_channel::<(Instant, Vec<u8>)>(4096);
        let writer = std::thread::spawn(move || {
            for (due, bytes) in rx {
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                if to.write_all(&bytes).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        });
        let mut last = Instant::now();
        let mut buf = vec![0u8; 64 * 1024];
        let mut seed = u64::from(std::process::id()) | 1;
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let extra = if jitter.is_zero() {
                Duration::ZERO
            } else {
                // xorshift: any spread will do, it need not be good.
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                Duration::from_micros(seed % (jitter.as_micros() as u64 + 1))
            };
            let due = (Instant::now() + delay + extra).max(last);
            last = due;
            if tx.send((due, buf[..n].to_vec())).is_err() {
                break;
            }
        }
        drop(tx);
        let _ = writer.join();
    }

    fn original_destination(stream: &TcpStream) -> Result<SocketAddr> {
        const SO_ORIGINAL_DST: libc::c_int = 80;
        // SAFETY: zeroed is a valid sockaddr_in.
        let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        // SAFETY: addr and len describe a sockaddr_in the kernel fills in.
        let rc = unsafe {
            libc::getsockopt(
                stream.as_raw_fd(),
                libc::SOL_IP,
                SO_ORIGINAL_DST,
                (&mut addr as *mut libc::sockaddr_in).cast(),
                &mut len,
            )
        };
        if rc != 0 {
            bail!(
                "no original destination: {}",
                std::io::Error::last_os_error()
            );
        }
        let ip = Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr));
        Ok(SocketAddr::V4(SocketAddrV4::new(
            ip,
            u16::from_be(addr.sin_port),
        )))
    }

    /// A connection to `target` from a socket carrying firewall `mark`.
    fn connect_marked(target: SocketAddr, mark: u32) -> Result<TcpStream> {
        let SocketAddr::V4(target) = target else {
            bail!("IPv4 only");
        };
        let last_error = || std::io::Error::last_os_error();
        // SAFETY: a new socket, owned by the TcpStream made from it (or
        // closed here on failure).
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            if fd < 0 {
                bail!("socket: {}", last_error());
            }
            let stream = TcpStream::from_raw_fd(fd);
            let mark = mark as libc::c_int;
            if libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_MARK,
                (&mark as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            ) != 0
            {
                bail!("SO_MARK: {}", last_error());
            }
            let addr = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: target.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*target.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            if libc::connect(
                fd,
                (&addr as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ) != 0
            {
                bail!("connect to {target}: {}", last_error());
            }
            Ok(stream)
        }
    }
}
