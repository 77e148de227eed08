//! Audit trail commands: the list on the worker's store; verifying the chains, the save
//! dialog and the signed export on job threads (a long chain walk or a large PDF never holds
//! up the other commands). The session's role is checked here and again by the service.

use std::path::PathBuf;

use super::command::PickPath;
use super::event::Event;
use super::status::{Status, Topic};
use super::worker::{DeskError, Worker, open_with_retry, spawn_job};
use crate::domain::{Permission, SignedAction};
use crate::services::audit_review::{self, ExportTargets};
use crate::services::signing::SignatureInput;
use crate::store::AuditFilter;
use crate::tr;

impl Worker {
    pub(super) fn load_audit(&mut self, filter: AuditFilter) -> Result<(), DeskError> {
        let user = self.user_for(Permission::ViewAuditTrail)?;
        let entries = audit_review::list(self.store()?, &user, &filter)
            .map_err(|e| DeskError::Other(e.to_string()))?;
        self.sink.emit(Event::AuditEntries { filter, entries });
        Ok(())
    }

    pub(super) fn verify_audit(&mut self) -> Result<(), DeskError> {
        let user = self.user_for(Permission::ViewAuditTrail)?;
        let db = self.cfg.paths.db_path();
        let sink = self.sink.clone();
        sink.status(Topic::Audit, Status::busy(tr!("desk-audit-verifying")));
        spawn_job(&self.sink, Topic::Audit, "audit-verify", move || {
            let result = open_with_retry(&db)
                .map_err(|e| e.to_string())
                .and_then(|store| audit_review::verify(&store, &user).map_err(|e| e.to_string()));
            match result {
                Ok(check) => {
                    sink.emit(Event::AuditVerified(check));
                    sink.status(Topic::Audit, Status::Idle);
                }
                Err(e) => sink.status(Topic::Audit, Status::Failed(e)),
            }
        });
        Ok(())
    }

    pub(super) fn choose_audit_export(&mut self, pick: PickPath) {
        let sink = self.sink.clone();
        sink.status(Topic::Audit, Status::busy(tr!("desk-audit-choose-file")));
        spawn_job(&self.sink, Topic::Audit, "audit-pick", move || {
            match pick() {
                Some(path) => {
                    sink.status(Topic::Audit, Status::Idle);
                    sink.emit(Event::AuditExportPath(path));
                }
                // Cancelled, or no file dialog available (no desktop portal): say so.
                None => sink.status(Topic::Audit, Status::Done(tr!("desk-export-cancelled"))),
            }
        });
    }

    pub(super) fn export_audit_signed(
        &mut self,
        filter: AuditFilter,
        pdf: PathBuf,
        sign: SignatureInput,
    ) -> Result<(), DeskError> {
        let user = self.user_for(SignedAction::ReviewAuditTrail.permission())?;
        let db = self.cfg.paths.db_path();
        let sink = self.sink.clone();
        sink.status(Topic::Audit, Status::busy(tr!("desk-audit-exporting")));
        spawn_job(&self.sink, Topic::Audit, "audit-export", move || {
            let result = (|| {
                if let Some(dir) = pdf.parent().filter(|d| !d.as_os_str().is_empty()) {
                    crate::domain::private_fs::create_private_dir(dir).map_err(|e| {
                        DeskError::Other(crate::tr!(
                            "desk-cannot-create-folder",
                            path = dir.display().to_string(),
                            error = e.to_string()
                        ))
                    })?;
                }
                let mut store = open_with_retry(&db)?;
                let to = ExportTargets {
                    pdf: Some(pdf.clone()),
                    csv: None,
                };
                audit_review::export_signed(&mut store, &user, &filter, &to, &sign)
                    .map_err(|e| DeskError::Other(e.to_string()))
            })();
            let status = match result {
                Ok(done) => Status::Done(tr!(
                    "desk-audit-exported",
                    entries = done.entries,
                    path = pdf.display().to_string(),
                    signer = done.signature.display_name.as_str()
                )),
                Err(e) => {
                    tracing::error!("audit export: {e}");
                    Status::Failed(e.to_string())
                }
            };
            sink.status(Topic::Audit, status);
        });
        Ok(())
    }
}
