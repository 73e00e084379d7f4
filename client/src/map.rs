//! [`Client::map`]: one task per payload, the results streamed back in the
//! payloads' order.
//!
//! One driver (a Tokio task) does two things at once: it submits the
//! payloads in batches (`POST /execute_batch`), at most
//! [`MapOptions::in_flight`] tasks ahead of what the caller has taken, and
//! it long-polls (`POST /results`) the oldest batch, handing each result
//! over as soon as it and every one before it have ended.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::{Client, ClientError, TaskResult, LONG_POLL_MAX, MAX_BATCH};

/// How [`Client::map_with`] batches its requests and how far it runs ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapOptions {
    /// Payloads per `POST /execute_batch`, and ids per `POST /results`
    /// (1 to [`MAX_BATCH`]).
    pub batch: usize,
    /// Most tasks submitted but not yet taken by the caller: bounds the
    /// memory a long map holds and the queue it puts on the platform.
    pub in_flight: usize,
    /// Longest hold of one `POST /results` long poll (the server may cut it
    /// shorter).
    pub poll: Duration,
}

impl Default for MapOptions {
    fn default() -> Self {
        MapOptions {
            batch: 1_000,
            in_flight: 20_000,
            poll: LONG_POLL_MAX,
        }
    }
}

/// The results of a [`Client::map`], in the payloads' order: each task's
/// [`TaskResult`] once it ended (COMPLETED, or FAILED with its message). An
/// error (a refused batch, an unreachable server) is yielded once and ends
/// the stream. A [`futures_core::Stream`]; [`MapResults::next`] reads it
/// without one.
///
/// Dropping it stops submitting; tasks already submitted still run.
#[derive(Debug)]
pub struct MapResults {
    results: mpsc::Receiver<Result<TaskResult, ClientError>>,
    driver: JoinHandle<()>,
}

impl MapResults {
    /// The next result in order; None after the last one (or an error).
    pub async fn next(&mut self) -> Option<Result<TaskResult, ClientError>> {
        self.results.recv().await
    }
}

impl futures_core::Stream for MapResults {
    type Item = Result<TaskResult, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.results.poll_recv(cx)
    }
}

impl Drop for MapResults {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// A submitted batch's task ids, or why it could not be submitted.
type Submitted = Result<Vec<Uuid>, ClientError>;

impl Client {
    /// Runs `function_id` once per payload and streams the results back in
    /// the payloads' order, with [`MapOptions::default`] (batches of 1,000,
    /// at most 20,000 tasks ahead). Payloads are drawn from the iterator
    /// only as the window allows, so it may be endless. Must be called
    /// within a Tokio runtime.
    pub fn map<I>(&self, function_id: Uuid, payloads: I) -> MapResults
    where
        I: IntoIterator<Item = Value>,
        I::IntoIter: Send + 'static,
    {
        self.map_with(function_id, payloads, MapOptions::default())
    }

    /// [`Client::map`] with other batch sizes and window.
    pub fn map_with<I>(&self, function_id: Uuid, payloads: I, options: MapOptions) -> MapResults
    where
        I: IntoIterator<Item = Value>,
        I::IntoIter: Send + 'static,
    {
        let batch = options.batch.clamp(1, MAX_BATCH);
        // The batch being collected is out of the channel: one fewer waits in it.
        let ahead = (options.in_flight / batch).max(2) - 1;
        let (submitted_tx, submitted_rx) = mpsc::channel(ahead);
        let (results_tx, results_rx) = mpsc::channel(batch);
        let payloads = payloads.into_iter();
        let (submitter, collector) = (self.clone(), self.clone());
        let driver = tokio::spawn(async move {
            tokio::join!(
                submit(submitter, function_id, payloads, batch, submitted_tx),
                collect(collector, submitted_rx, options.poll, results_tx),
            );
        });
        MapResults {
            results: results_rx,
            driver,
        }
    }
}

/// Submits the payloads in batches, in order, each once there is room for
/// it in `submitted`; stops after a batch that fails or when the collector
/// is gone.
async fn submit(
    client: Client,
    function_id: Uuid,
    mut payloads: impl Iterator<Item = Value>,
    batch: usize,
    submitted: mpsc::Sender<Submitted>,
) {
    loop {
        // Room first, payloads second: an endless iterator is drawn from
        // only as fast as results are taken.
        let Ok(room) = submitted.reserve().await else {
            return;
        };
        let chunk: Vec<Value> = payloads.by_ref().take(batch).collect();
        if chunk.is_empty() {
            return;
        }
        let outcome = client.execute_batch(function_id, &chunk).await;
        let failed = outcome.is_err();
        room.send(outcome);
        if failed {
            return;
        }
    }
}

/// Collects the submitted batches in order and sends their results on.
async fn collect(
    client: Client,
    mut submitted: mpsc::Receiver<Submitted>,
    poll: Duration,
    results: mpsc::Sender<Result<TaskResult, ClientError>>,
) {
    while let Some(batch) = submitted.recv().await {
        let sent_all = match batch {
            Ok(ids) => collect_batch(&client, &ids, poll, &results).await,
            Err(e) => {
                let _ = results.send(Err(e)).await;
                false
            }
        };
        if !sent_all {
            return;
        }
    }
}

/// Long-polls the tasks of one batch until each has ended, sending every
/// result as soon as it and all before it have. False when the map must
/// stop: an error was sent, or no one reads the results any more.
async fn collect_batch(
    client: &Client,
    ids: &[Uuid],
    poll: Duration,
    results: &mpsc::Sender<Result<TaskResult, ClientError>>,
) -> bool {
    let mut ended: Vec<Option<TaskResult>> = vec![None; ids.len()];
    let mut next = 0;
    while next < ids.len() {
        let pending: Vec<usize> = (next..ids.len()).filter(|&i| ended[i].is_none()).collect();
        let asked: Vec<Uuid> = pending.iter().map(|&i| ids[i]).collect();
        let rows = match client.results(&asked, Some(poll)).await {
            Ok(rows) => rows,
            Err(e) => {
                let _ = results.send(Err(e)).await;
                return false;
            }
        };
        for (i, row) in pending.into_iter().zip(rows) {
            match row.status {
                Some(status) if status.is_final() => {
                    ended[i] = Some(TaskResult {
                        task_id: ids[i],
                        status,
                        result: row.result,
                    })
                }
                Some(_) => {}
                None => {
                    let detail = row.error.unwrap_or_else(|| "unknown task".to_owned());
                    let gone = ClientError::Decode(format!("task {}: {detail}", ids[i]));
                    let _ = results.send(Err(gone)).await;
                    return false;
                }
            }
        }
        while let Some(result) = ended.get_mut(next).and_then(Option::take) {
            if results.send(Ok(result)).await.is_err() {
                return false;
            }
            next += 1;
        }
    }
    true
}
