//! The e-mail sender: when `smtp_url` is set, a periodic task claims unsent rows of
//! `public.outbox_emails` (written by the `email.notify` job) in batches with
//! `for update skip locked`, so that several processes (`zumodra serve`, `zumodra
//! worker`) can run it at once without sending a row twice, sends each over SMTP and
//! marks it sent, or counts the failed attempt and its error. A row that failed
//! [`MAX_ATTEMPTS`] times stays in the outbox, unsent, with its last error. Without
//! `smtp_url` the e-mails just stay in the outbox.

use std::time::Duration;

use anyhow::{anyhow, Context};
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use zumodra_tenancy::Engine;

use crate::config::Settings;

/// A row is given up after this many failed sends.
pub const MAX_ATTEMPTS: i32 = 5;
/// Rows claimed (and locked) per transaction.
const BATCH: i64 = 20;
/// The longest wait for the SMTP server, per command.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);
/// Time between two sending passes.
pub const INTERVAL: Duration = Duration::from_secs(5);

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassReport {
    pub sent: usize,
    pub failed: usize,
}

/// Sends the outbox over one SMTP server.
#[derive(Clone)]
pub struct Mailer {
    engine: Engine,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// Check an `smtp_url` setting (no connection is made).
pub fn check_smtp_url(url: &str) -> anyhow::Result<()> {
    transport(url).map(|_| ())
}

/// Check a `mail_from` setting, such as `Zumodra <no-reply@example.com>`.
pub fn check_mail_from(from: &str) -> anyhow::Result<()> {
    from.parse::<Mailbox>()
        .map(|_| ())
        .map_err(|e| anyhow!("{e}"))
}

fn transport(url: &str) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let builder =
        AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| anyhow!("{e}"))?;
    Ok(builder.timeout(Some(SMTP_TIMEOUT)).build())
}

impl Mailer {
    /// A mailer for `smtp_url` (`smtp://host:port`, `smtps://user:pass@host:465`, or
    /// `smtp://host:587?tls=required` for STARTTLS), sending as `from`.
    pub fn new(engine: Engine, smtp_url: &str, from: &str) -> anyhow::Result<Self> {
        Ok(Self {
            engine,
            transport: transport(smtp_url).context("smtp_url")?,
            from: from
                .parse::<Mailbox>()
                .map_err(|e| anyhow!("mail_from: {e}"))?,
        })
    }

    /// The mailer the settings ask for; None when `smtp_url` is unset.
    pub fn from_settings(engine: Engine, settings: &Settings) -> anyhow::Result<Option<Self>> {
        match &settings.smtp_url {
            Some(url) => Self::new(engine, url, &settings.mail_from).map(Some),
            None => Ok(None),
        }
    }

    /// Send every row unsent when the pass starts (each at most once per pass).
    pub async fn send_pass(&self) -> anyhow::Result<PassReport> {
        let mut report = PassReport::default();
        let mut after = 0i64;
        loop {
            let (claimed, last) = self.send_batch(after, &mut report).await?;
            match last {
                Some(id) if claimed as i64 >= BATCH => after = id,
                _ => return Ok(report),
            }
        }
    }

    /// Claim up to [`BATCH`] unsent rows with ids above `after`, send them, record the
    /// outcomes and commit. Returns how many were claimed and the last id.
    async fn send_batch(
        &self,
        after: i64,
        report: &mut PassReport,
    ) -> anyhow::Result<(usize, Option<i64>)> {
        let mut conn = self.engine.shared().await?;
        let tx = conn.transaction().await?;
        let rows = tx
            .query(
                "select id, to_address, subject, body from public.outbox_emails \
                 where sent_at is null and attempts < $1 and id > $2 \
                 order by id limit $3 for update skip locked",
                &[&MAX_ATTEMPTS, &after, &BATCH],
            )
            .await?;
        let mut last = None;
        for row in &rows {
            let id: i64 = row.get(0);
            last = Some(id);
            let outcome = self
                .send_one(row.get::<_, &str>(1), row.get(2), row.get(3))
                .await;
            match outcome {
                Ok(()) => {
                    tx.execute(
                        "update public.outbox_emails set sent_at = now(), updated_at = now() \
                         where id = $1",
                        &[&id],
                    )
                    .await?;
                    report.sent += 1;
                }
                Err(failure) => {
                    let (error, attempts) = match failure {
                        // A message that can never be built is given up at once.
                        Failure::Permanent(e) => (e, MAX_ATTEMPTS),
                        Failure::Transient(e) => (e, 1),
                    };
                    tracing::warn!(outbox_id = id, error = %error, "sending an e-mail failed");
                    tx.execute(
                        "update public.outbox_emails set attempts = least(attempts + $2, $3), \
                         last_error = $4, updated_at = now() where id = $1",
                        &[&id, &attempts, &MAX_ATTEMPTS, &error],
                    )
                    .await?;
                    report.failed += 1;
                }
            }
        }
        tx.commit().await?;
        Ok((rows.len(), last))
    }

    async fn send_one(&self, to: &str, subject: &str, body: &str) -> Result<(), Failure> {
        let to = to
            .parse::<Mailbox>()
            .map_err(|e| Failure::Permanent(format!("bad recipient {to:?}: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|e| Failure::Permanent(format!("building the message: {e}")))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| Failure::Transient(e.to_string()))
    }
}

enum Failure {
    Permanent(String),
    Transient(String),
}

/// The running sender; [`MailerHandle::stop`] ends it between passes.
pub struct MailerHandle {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl MailerHandle {
    /// Stop: lets a pass in progress finish, then returns.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task {
            let _ = task.await;
        }
    }
}

/// Start the periodic sender on the current runtime when `smtp_url` is set; otherwise
/// log that e-mails stay in the outbox. Never fails: a bad mailer is logged.
pub fn spawn(engine: Engine, settings: &Settings) -> MailerHandle {
    let (stop, mut stopped) = watch::channel(false);
    let mailer = match Mailer::from_settings(engine, settings) {
        Ok(Some(mailer)) => mailer,
        Ok(None) => {
            tracing::info!("e-mail sending is off (smtp_url is unset): e-mails stay in the outbox");
            return MailerHandle { stop, task: None };
        }
        Err(e) => {
            tracing::error!(error = %e, "e-mail sending is off: the mailer could not be built");
            return MailerHandle { stop, task: None };
        }
    };
    tracing::info!("e-mail sending is on");
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.changed() => return,
            }
            match mailer.send_pass().await {
                Ok(r) if r.sent + r.failed > 0 => {
                    tracing::info!(sent = r.sent, failed = r.failed, "outbox pass")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox pass failed"),
            }
            if *stopped.borrow() {
                return;
            }
        }
    });
    MailerHandle {
        stop,
        task: Some(task),
    }
}
