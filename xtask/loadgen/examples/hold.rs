//! `cargo run --release -p runcost-loadgen --example hold -- PORT N PATH`:
//! holds N connections on 127.0.0.1:PORT and prints the counts each second.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    let (port, n) = (a[1].parse()?, a[2].parse()?);
    let h = runcost_loadgen::Holder::start(runcost_loadgen::HoldConfig {
        host: std::net::Ipv4Addr::LOCALHOST.into(),
        port,
        connections: n,
        request: runcost_loadgen::HoldRequest::HttpGet { path: a[3].clone() },
        connect_timeout: std::time::Duration::from_secs(5),
        pin_cpu: None,
    })?;
    for _ in 0..15 {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        println!("{:?} {:?}", h.counts(), h.last_error());
    }
    Ok(())
}
