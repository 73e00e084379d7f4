//! `--metrics-port` of `faas dispatcher` and `faas worker`: their
//! Prometheus metrics at `GET /metrics` on a port of their own (the
//! server and `faas up` serve theirs on the API's port). Loopback unless
//! `--metrics-host` says otherwise: the figures name functions and
//! workers.

use anyhow::Context;
use axum::routing::get;
use faas_metrics::Metrics;

#[derive(clap::Args, Debug, Clone)]
pub struct MetricsArgs {
    /// Serve Prometheus metrics at http://HOST:PORT/metrics
    #[arg(long, value_name = "PORT")]
    pub metrics_port: Option<u16>,
    /// Address the metrics port listens on
    #[arg(
        long,
        value_name = "HOST",
        default_value = "127.0.0.1",
        requires = "metrics_port"
    )]
    pub metrics_host: String,
}

impl MetricsArgs {
    /// Binds the metrics port (if asked for) and serves `metrics` there
    /// for as long as the process runs; says where on the log.
    pub async fn serve(&self, metrics: &Metrics) -> anyhow::Result<()> {
        let Some(port) = self.metrics_port else {
            return Ok(());
        };
        let listener = tokio::net::TcpListener::bind((self.metrics_host.as_str(), port))
            .await
            .with_context(|| {
                format!("cannot listen for metrics on {}:{port}", self.metrics_host)
            })?;
        let address = listener.local_addr()?;
        let metrics = metrics.clone();
        let app = axum::Router::new().route(
            "/metrics",
            get(move || {
                let text = metrics.encode();
                async move { ([("content-type", "text/plain; version=0.0.4")], text) }
            }),
        );
        tracing::info!("metrics: http://{address}/metrics");
        tokio::spawn(async move {
            // The API's own serving loop: header and body timeouts, a
            // connection cap.
            let config = faas_server::ServerConfig::default();
            if let Err(e) = faas_server::serve(listener, app, &config, std::future::pending()).await
            {
                tracing::warn!("the metrics port stopped: {e}");
            }
        });
        Ok(())
    }
}
