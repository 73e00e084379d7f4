//! `faas-netlab`: the multi-host test bed of `faas_e2e::netlab` by hand
//! (scripts/netlab.sh runs it; root only).

use std::os::unix::process::CommandExt;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use faas_e2e::netlab::{self, Lab};

const USAGE: &str = "\
usage: faas-netlab up [--nodes N] [--delay MS] [--jitter MS] [--loss PERCENT]
       faas-netlab down
       faas-netlab status
       faas-netlab run HOST COMMAND [ARG...]
       faas-netlab cut|mend HOST
       faas-netlab rtt HOST          (the link's TCP round trip to the head, ms)
       faas-netlab relay LISTEN DELAY_MS JITTER_MS   (started by up --delay)";

fn main() {
    if let Err(e) = real_main() {
        eprintln!("faas-netlab: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first() else {
        bail!("{USAGE}");
    };
    let rest = &args[1..];
    if command == "relay" {
        return relay(rest);
    }
    if !netlab::available() {
        bail!("needs root and iproute2 (ip)");
    }
    match command.as_str() {
        "up" => up(rest),
        "down" => {
            let n = Lab::remove_persistent();
            println!("removed {n} namespaces");
            Ok(())
        }
        "status" => {
            let lab = Lab::open_persistent()?;
            for host in lab.hosts() {
                println!("{:<6} {:<15} netns {}", host.name, host.addr, host.netns);
            }
            Ok(())
        }
        "run" => {
            let [host, program, program_args @ ..] = rest else {
                bail!("{USAGE}");
            };
            let lab = Lab::open_persistent()?;
            let err = lab.host(host)?.command(program).args(program_args).exec();
            bail!("cannot run {program}: {err}")
        }
        "rtt" => {
            let [host] = rest else {
                bail!("{USAGE}");
            };
            let lab = Lab::open_persistent()?;
            let rtt = lab.link_round_trip(lab.host(host)?, 200)?;
            println!("{:.3}", rtt.as_secs_f64() * 1000.0);
            Ok(())
        }
        "cut" | "mend" => {
            let [host] = rest else {
                bail!("{USAGE}");
            };
            let lab = Lab::open_persistent()?;
            let host = lab.host(host)?;
            if command == "cut" {
                lab.cut(host)
            } else {
                lab.mend(host)
            }
        }
        _ => bail!("{USAGE}"),
    }
}

fn up(args: &[String]) -> Result<()> {
    let mut nodes = 3usize;
    let mut delay = 0u64;
    let mut jitter = 0u64;
    let mut loss = 0f64;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--nodes" => nodes = value.parse().context("--nodes")?,
            "--delay" => delay = value.parse().context("--delay (ms)")?,
            "--jitter" => jitter = value.parse().context("--jitter (ms)")?,
            "--loss" => loss = value.parse().context("--loss (percent)")?,
            _ => bail!("{USAGE}"),
        }
    }
    if !(1..=200).contains(&nodes) {
        bail!("--nodes: 1 to 200");
    }
    if !(0.0..100.0).contains(&loss) {
        bail!("--loss: a percentage below 100");
    }
    let mut lab = Lab::create_persistent(nodes)?;
    let me = std::env::current_exe().context("own path")?;
    let nodes = lab.nodes.clone();
    for node in &nodes {
        if loss > 0.0 {
            lab.set_loss(node, loss / 100.0)?;
        }
        if delay > 0 || jitter > 0 {
            lab.delay(
                node,
                Duration::from_millis(delay),
                Duration::from_millis(jitter),
                &me,
            )?;
        }
    }
    for host in lab.hosts() {
        println!("{:<6} {}", host.name, host.addr);
    }
    if delay > 0 || jitter > 0 || loss > 0.0 {
        println!(
            "links from each node to the head: {delay} ms (+ up to {jitter} ms) each way, {loss}% loss each way"
        );
    }
    Ok(())
}

fn relay(args: &[String]) -> Result<()> {
    let [listen, delay, jitter] = args else {
        bail!("{USAGE}");
    };
    let listen = listen.parse().context("LISTEN: an address:port")?;
    let delay = Duration::from_millis(delay.parse().context("DELAY_MS")?);
    let jitter = Duration::from_millis(jitter.parse().context("JITTER_MS")?);
    netlab::relay::serve(listen, delay, jitter)
}
