//! The outbox sender against a tiny fake SMTP server.
// Test code may unwrap: a failed unwrap is a failed test (helpers included, which
// clippy's allow-unwrap-in-tests does not cover).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use zumodra::mailer::{Mailer, PassReport};
use zumodra_tenancy::testing::TestDb;

/// One received message: the RCPT TO address and the DATA text.
#[derive(Debug, Clone)]
struct Received {
    rcpt: String,
    data: String,
}

/// A fake SMTP server on 127.0.0.1:0; returns its port and what it received.
async fn fake_smtp() -> (u16, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = Arc::new(Mutex::new(Vec::new()));
    let store = inbox.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let store = store.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 fake ESMTP\r\n").await.unwrap();
                let mut rcpt = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250 fake\r\n"
                    } else if upper.starts_with("MAIL FROM") {
                        b"250 ok\r\n"
                    } else if upper.starts_with("RCPT TO") {
                        rcpt = line[8..].trim().to_owned();
                        b"250 ok\r\n"
                    } else if upper.starts_with("DATA") {
                        write.write_all(b"354 go on\r\n").await.unwrap();
                        let mut data = String::new();
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            data.push_str(&l);
                            data.push('\n');
                        }
                        store.lock().unwrap().push(Received {
                            rcpt: rcpt.clone(),
                            data,
                        });
                        b"250 queued\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, inbox)
}

async fn outbox(db: &TestDb) -> Vec<(i64, bool, i32, Option<String>)> {
    db.superuser()
        .await
        .query(
            "select id, sent_at is not null, attempts, last_error \
             from public.outbox_emails order by id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

#[tokio::test]
async fn sends_the_outbox_once_and_counts_failures() {
    let db = TestDb::new().await;
    let acme = db
        .engine
        .create_tenant(zumodra_tenancy::NewTenant {
            slug: "acme".into(),
            name: "Acme".into(),
            plan: "free".into(),
            status: zumodra_tenancy::TenantStatus::Active,
            owner: None,
        })
        .await
        .unwrap();
    let conn = db.engine.shared().await.unwrap();
    for (to, subject) in [
        ("ada@example.com", "Interview on Monday"),
        ("bob@example.com", "Your offer"),
    ] {
        conn.execute(
            "insert into public.outbox_emails (tenant_id, to_address, subject, body) \
             values ($1, $2, $3, 'Hello.')",
            &[&acme.id.0, &to, &subject],
        )
        .await
        .unwrap();
    }

    let (port, inbox) = fake_smtp().await;
    let url = format!("smtp://127.0.0.1:{port}");
    let mailer = Mailer::new(db.engine.clone(), &url, "Zumodra <no-reply@localhost>").unwrap();
    let report = mailer.send_pass().await.unwrap();
    assert_eq!(report, PassReport { sent: 2, failed: 0 });
    let got = inbox.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].rcpt, "<ada@example.com>");
    assert!(
        got[0].data.contains("Subject: Interview on Monday"),
        "{got:?}"
    );
    assert!(got[0].data.contains("To: ada@example.com"), "{got:?}");
    assert!(got[0].data.contains("Hello."), "{got:?}");
    assert_eq!(got[1].rcpt, "<bob@example.com>");
    assert!(got[1].data.contains("Subject: Your offer"), "{got:?}");
    assert!(outbox(&db).await.iter().all(|r| r.1 && r.2 == 0));

    // Nothing is sent twice.
    let report = mailer.send_pass().await.unwrap();
    assert_eq!(report, PassReport::default());
    assert_eq!(inbox.lock().unwrap().len(), 2);

    // With the server down, the attempt is counted and the error kept.
    conn.execute(
        "insert into public.outbox_emails (tenant_id, to_address, subject, body) \
         values ($1, 'cy@example.com', 'Later', 'Hi.')",
        &[&acme.id.0],
    )
    .await
    .unwrap();
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_port = closed.local_addr().unwrap().port();
    drop(closed);
    let down = Mailer::new(
        db.engine.clone(),
        &format!("smtp://127.0.0.1:{dead_port}"),
        "Zumodra <no-reply@localhost>",
    )
    .unwrap();
    for attempt in 1..=2 {
        let report = down.send_pass().await.unwrap();
        assert_eq!(report, PassReport { sent: 0, failed: 1 });
        let rows = outbox(&db).await;
        let third = &rows[2];
        assert!(!third.1);
        assert_eq!(third.2, attempt);
        assert!(
            third.3.as_deref().is_some_and(|e| !e.is_empty()),
            "{rows:?}"
        );
    }

    // Given up after five attempts; the server back up does not resend it.
    db.superuser()
        .await
        .execute(
            "update public.outbox_emails set attempts = 5 where sent_at is null",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(mailer.send_pass().await.unwrap(), PassReport::default());
    assert_eq!(inbox.lock().unwrap().len(), 2);

    // A bad recipient is given up at once.
    conn.execute(
        "insert into public.outbox_emails (tenant_id, to_address, subject, body) \
         values ($1, 'not an address@x', 'S', 'B')",
        &[&acme.id.0],
    )
    .await
    .unwrap();
    assert_eq!(
        mailer.send_pass().await.unwrap(),
        PassReport { sent: 0, failed: 1 }
    );
    let rows = outbox(&db).await;
    assert_eq!(rows[3].2, 5, "{rows:?}");
    assert_eq!(mailer.send_pass().await.unwrap(), PassReport::default());
}
