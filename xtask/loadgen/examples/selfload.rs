//! Starts a tiny HTTP server on 127.0.0.1 (ephemeral port) that answers after
//! about 1 ms, then loads it in open loop and in closed loop and prints both
//! results (one summary line and the JSON each). Bounded: about 5 s in all.
//!
//!     cargo run -p runcost-loadgen --release --example selfload

use std::convert::Infallible;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use runcost_loadgen::{run, Config, Mode, RequestSpec};

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path().starts_with("/slow") {
        tokio::time::sleep(Duration::from_millis(5)).await;
    } else {
        tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_micros(1000)))
            .await
            .ok();
    }
    Ok(Response::new(Full::new(Bytes::from_static(b"ok\n"))))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(handle))
                    .await;
            });
        }
    });

    let mix = vec![
        RequestSpec {
            weight: 9,
            ..RequestSpec::get("/items/{rand}")
        },
        RequestSpec {
            weight: 1,
            ..RequestSpec::get("/slow/{seq}")
        },
    ];

    let mut open = Config::new(port, Mode::Open { rate_per_s: 500.0 });
    open.connections = 8;
    open.duration = Duration::from_millis(2500);
    open.warmup = Duration::from_millis(500);
    open.mix = mix.clone();
    let r = run(open).await?;
    println!("{}", r.summary());
    println!("{}", serde_json::to_string_pretty(&r)?);

    let mut closed = Config::new(port, Mode::Closed);
    closed.connections = 4;
    closed.duration = Duration::from_millis(2500);
    closed.warmup = Duration::from_millis(500);
    closed.mix = mix;
    let r = run(closed).await?;
    println!("{}", r.summary());
    println!("{}", serde_json::to_string_pretty(&r)?);

    server.abort();
    Ok(())
}
