//! Supervision of the long-running tasks (subscriber, recorder, push hub,
//! feed, lease, simulator...): a task that ends before it is told to stop, or
//! panics, is logged at error with its name and the panic's message, counted,
//! and started again from its factory after a capped, jittered backoff.
//! `/readyz` and `/metrics` show every task's state and restarts.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::error;

use crate::backoff::Backoff;

const RESTART_BASE: Duration = Duration::from_millis(100);
const RESTART_CAP: Duration = Duration::from_secs(30);
/// A task that ran this long before failing is restarted at once again.
const STABLE_AFTER: Duration = Duration::from_secs(60);

/// When a task that ends by itself is restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// It runs until told to stop: returning early is a failure too.
    Always,
    /// It may finish by design (a replay file ends, Massive refuses the
    /// key); only a panic is a failure.
    OnPanic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Running,
    /// Failed; waiting for its restart.
    Restarting,
    /// Finished by design, or stopped when told to.
    Stopped,
}

impl TaskState {
    const ALL: [TaskState; 3] = [
        TaskState::Running,
        TaskState::Restarting,
        TaskState::Stopped,
    ];
}

/// One supervised task, as `/readyz` and `/metrics` show it.
#[derive(Debug)]
pub struct TaskHealth {
    name: &'static str,
    state: AtomicU8,
    restarts: AtomicU64,
    last_failure: Mutex<Option<String>>,
}

impl TaskHealth {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            state: AtomicU8::new(TaskState::Running as u8),
            restarts: AtomicU64::new(0),
            last_failure: Mutex::new(None),
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn state(&self) -> TaskState {
        TaskState::ALL
            .get(usize::from(self.state.load(Ordering::Relaxed)))
            .copied()
            .unwrap_or(TaskState::Stopped)
    }

    fn set_state(&self, state: TaskState) {
        self.state.store(state as u8, Ordering::Relaxed);
    }

    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    fn count_failure(&self, why: String) -> u64 {
        *self.last_failure.lock() = Some(why);
        self.restarts.fetch_add(1, Ordering::Relaxed) + 1
    }
}

impl Serialize for TaskHealth {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct View {
            state: TaskState,
            restarts: u64,
            last_failure: Option<String>,
        }
        View {
            state: self.state(),
            restarts: self.restarts(),
            last_failure: self.last_failure.lock().clone(),
        }
        .serialize(s)
    }
}

/// Starts tasks on a tracker (which shutdown waits on) and restarts them.
#[derive(Debug)]
pub struct Supervisor {
    tracker: TaskTracker,
    tasks: Mutex<Vec<Arc<TaskHealth>>>,
}

impl Supervisor {
    pub fn new(tracker: TaskTracker) -> Arc<Self> {
        Arc::new(Self {
            tracker,
            tasks: Mutex::new(Vec::new()),
        })
    }

    /// Every task started so far, in start order.
    pub fn tasks(&self) -> Vec<Arc<TaskHealth>> {
        self.tasks.lock().clone()
    }

    /// True unless a task is waiting for its restart.
    pub fn all_running(&self) -> bool {
        self.tasks
            .lock()
            .iter()
            .all(|task| task.state() != TaskState::Restarting)
    }

    /// Runs `factory()` as `name` until `stop` is cancelled, starting it
    /// again whenever it fails. The handle completes when it is stopped for
    /// good. A name started again (the feed of each lease term) keeps its
    /// count.
    pub fn spawn<F, Fut>(
        &self,
        name: &'static str,
        restart: Restart,
        stop: CancellationToken,
        mut factory: F,
    ) -> JoinHandle<()>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let health = self.health(name);
        let tracker = self.tracker.clone();
        self.tracker.spawn(async move {
            let mut backoff = Backoff::new(RESTART_BASE, RESTART_CAP).first_at_once();
            loop {
                health.set_state(TaskState::Running);
                let started = Instant::now();
                let ended = tracker.spawn(factory()).await;
                if stop.is_cancelled() {
                    break;
                }
                let why = match ended {
                    Ok(()) if restart == Restart::OnPanic => break,
                    Ok(()) => "ended unexpectedly".to_owned(),
                    Err(failure) => match failure.try_into_panic() {
                        Ok(panic) => format!("panicked: {}", panic_message(panic.as_ref())),
                        Err(failure) => failure.to_string(),
                    },
                };
                health.set_state(TaskState::Restarting);
                let restarts = health.count_failure(why.clone());
                if started.elapsed() >= STABLE_AFTER {
                    backoff.reset();
                }
                let delay = backoff.next_delay();
                error!(
                    "SUPERVISOR: Task {name} {why}; restarting it in {delay:?} (restart {restarts})"
                );
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
            health.set_state(TaskState::Stopped);
        })
    }

    fn health(&self, name: &'static str) -> Arc<TaskHealth> {
        let mut tasks = self.tasks.lock();
        if let Some(task) = tasks.iter().find(|task| task.name == name) {
            return task.clone();
        }
        let task = Arc::new(TaskHealth::new(name));
        tasks.push(task.clone());
        task
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(message) = panic.downcast_ref::<&str>() {
        message
    } else if let Some(message) = panic.downcast_ref::<String>() {
        message
    } else {
        "(no message)"
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;

    /// Waits (polling) until `condition` holds, for at most a minute (a
    /// panic's backtrace can take seconds to print).
    async fn until(condition: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !condition() {
            assert!(Instant::now() < deadline, "condition not met in time");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn a_task_that_panics_is_restarted_counted_and_shown_until_it_runs() {
        let supervisor = Supervisor::new(TaskTracker::new());
        let stop = CancellationToken::new();
        let starts = Arc::new(AtomicU32::new(0));
        let (counted, stopped) = (starts.clone(), stop.clone());
        supervisor.spawn("flaky", Restart::OnPanic, stop.clone(), move || {
            let start = counted.fetch_add(1, Ordering::SeqCst);
            let stopped = stopped.clone();
            async move {
                if start < 3 {
                    panic!("injected failure {start}");
                }
                stopped.cancelled().await
            }
        });
        until(|| starts.load(Ordering::SeqCst) == 4).await;
        let task = supervisor.tasks().pop().expect("the task");
        assert_eq!(task.name(), "flaky");
        assert_eq!(task.restarts(), 3);
        assert_eq!(task.state(), TaskState::Running);
        assert!(supervisor.all_running());
        let shown = serde_json::to_value(task.as_ref()).expect("serialises");
        assert_eq!(shown["last_failure"], "panicked: injected failure 2");
        stop.cancel();
        until(|| task.state() == TaskState::Stopped).await;
    }

    #[tokio::test]
    async fn returning_early_is_a_failure_only_for_tasks_that_should_run_on() {
        let supervisor = Supervisor::new(TaskTracker::new());
        let stop = CancellationToken::new();
        let finished = supervisor.spawn("replay", Restart::OnPanic, stop.clone(), || async {});
        finished.await.expect("the supervisor itself does not fail");
        let replay = supervisor.tasks().pop().expect("the task");
        assert_eq!((replay.state(), replay.restarts()), (TaskState::Stopped, 0));

        let starts = Arc::new(AtomicU32::new(0));
        let counted = starts.clone();
        supervisor.spawn("subscriber", Restart::Always, stop.clone(), move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async {}
        });
        until(|| starts.load(Ordering::SeqCst) >= 3).await;
        let subscriber = supervisor.tasks().pop().expect("the task");
        assert!(subscriber.restarts() >= 2);
        stop.cancel();
        until(|| subscriber.state() == TaskState::Stopped).await;
        assert!(supervisor.all_running());
    }

    #[tokio::test]
    async fn a_task_waiting_for_its_restart_makes_the_process_not_ready() {
        let supervisor = Supervisor::new(TaskTracker::new());
        let stop = CancellationToken::new();
        supervisor.spawn("broken", Restart::Always, stop.clone(), || async {
            panic!("always")
        });
        let task = until_restarts(&supervisor, 3).await;
        until(|| task.state() == TaskState::Restarting).await;
        assert!(!supervisor.all_running());
        stop.cancel();
        until(|| task.state() == TaskState::Stopped).await;
        assert!(supervisor.all_running());
    }

    async fn until_restarts(supervisor: &Supervisor, n: u64) -> Arc<TaskHealth> {
        loop {
            if let Some(task) = supervisor.tasks().pop()
                && task.restarts() >= n
            {
                return task;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}
