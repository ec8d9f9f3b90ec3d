//! Starting and stopping the server: the stack, the keys, the metrics
//! recorder, the listener, and a shutdown that drains the calls in flight.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use palisade_core::Provider;
use tokio::sync::Notify;

use super::ServeArgs;
use super::app::{self, AppState};
use super::auth::Keys;
use crate::stack_file::StackPlan;

/// Builds everything, serves until Ctrl-C or SIGTERM, then drains.
pub(super) fn serve(args: ServeArgs) -> Result<(), String> {
    let ServeArgs {
        config,
        port,
        host,
        api_key_env,
        admin_key_env,
        default_max_tokens,
        drain_timeout,
    } = args;
    let plan = StackPlan::from_file(config.as_deref())?;
    if let Some(note) = &plan.note {
        eprintln!("palisade: {note}");
    }
    let keys = Keys::from_env(api_key_env.as_deref(), admin_key_env.as_deref())
        .map_err(|e| e.to_string())?;
    // The exporter only renders: `/metrics` is a route of this server, not
    // a listener of its own.
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let stack = plan.build().await?;
        let addr = format!("{host}:{port}");
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let local = listener
            .local_addr()
            .map_err(|e| format!("cannot read the bound address: {e}"))?;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "http://{local}");
        for candidate in &stack.config().candidates {
            let _ = writeln!(
                out,
                "  candidate {} (model {})",
                candidate.id,
                candidate.model()
            );
        }
        let _ = writeln!(
            out,
            "palisade serve: stack `{}` on http://{local}/v1; Ctrl-C stops it",
            stack.id()
        );
        let _ = out.flush();
        drop(out);

        let state = AppState::new(stack, keys, metrics, default_max_tokens);
        let stop = Arc::new(Notify::new());
        let graceful = {
            let stop = Arc::clone(&stop);
            async move { stop.notified().await }
        };
        let mut server = tokio::spawn(
            axum::serve(listener, app::router(state))
                .with_graceful_shutdown(graceful)
                .into_future(),
        );
        tokio::select! {
            ended = &mut server => {
                return match ended {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(format!("the server stopped: {e}")),
                    Err(e) => Err(format!("the server task failed: {e}")),
                };
            }
            signal = shutdown_signal() => signal?,
        }
        eprintln!("palisade serve: stopping; waiting for the calls in flight");
        // `notify_one` keeps the permit if the server has not polled yet.
        stop.notify_one();
        match tokio::time::timeout(Duration::from_secs(drain_timeout), server).await {
            Ok(Ok(Ok(()))) => {
                eprintln!("palisade serve: stopped");
                Ok(())
            }
            Ok(Ok(Err(e))) => Err(format!("the server stopped: {e}")),
            Ok(Err(e)) => Err(format!("the server task failed: {e}")),
            Err(_) => Err(format!(
                "calls still in flight after --drain-timeout {drain_timeout} s; stopped anyway"
            )),
        }
    })
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM (what orchestrators send).
async fn shutdown_signal() -> Result<(), String> {
    let ctrl_c = async {
        tokio::signal::ctrl_c()
            .await
            .map_err(|e| format!("cannot wait for Ctrl-C: {e}"))
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term =
            signal(SignalKind::terminate()).map_err(|e| format!("cannot wait for SIGTERM: {e}"))?;
        tokio::select! {
            r = ctrl_c => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        ctrl_c.await
    }
}
