//! Start-up: open the database, seed the demo when asked, run until Ctrl-C.

use crate::config::Settings;
use crate::database::Database;

/// `zumodra serve` and `zumodra demo`.
pub async fn serve(settings: Settings, demo: bool) -> anyhow::Result<()> {
    let db = Database::open(&settings).await?;
    let result = async {
        if demo {
            crate::demo::ensure(&db.engine).await?;
            crate::demo::print_welcome(&settings.base_domain, settings.bind.port());
        }
        for t in db.engine.tenants().await? {
            println!("tenant {:<10} {:<10} {}", t.slug, t.status, t.name);
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    db.close();
    result
}
