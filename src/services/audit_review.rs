//! Reviewing the audit trail: reading it and verifying its hash chains (QC manager and admin,
//! [`Permission::ViewAuditTrail`]), and exporting a signed extract (the QC manager,
//! [`SignedAction::ReviewAuditTrail`], meaning "reviewed"): the signer re-enters the password
//! and gives a reason, the signature is bound to the blake3 hash of the extract's content
//! (station, filter, time, verification and every entry with its chain hash), and the PDF
//! and/or CSV are written readable by their owner only. The signature itself is an audit
//! entry (`signature`, with `action` `audit.review`), so every review is on the trail.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::domain::private_fs::create_private;
use crate::domain::{Permission, SignedAction};
use crate::reports::ReportError;
use crate::reports::audit::{self, AuditExtract, ChainCheck, describe_filter, normalize_filter};
use crate::services::auth::{AuthUser, PermissionDenied};
use crate::services::signing::{self, SignError, SignatureInput};
use crate::store::{AuditEntry, AuditFilter, SignatureRow, Store, StoreError, now_ms};
use crate::tr;

/// Why the audit trail was not shown or exported.
#[derive(Debug, thiserror::Error)]
pub enum AuditReviewError {
    /// The role may not read the audit trail.
    #[error(transparent)]
    Denied(#[from] PermissionDenied),
    /// No entry matches the filter: nothing to review (often a typo in the actor or action).
    #[error("{}", tr!("audit-export-empty", filter = .0.as_str()))]
    Empty(String),
    /// Neither a PDF nor a CSV file was asked for.
    #[error("{}", tr!("audit-export-no-target"))]
    NoTarget,
    /// The signature was refused (role, password, reason).
    #[error(transparent)]
    Sign(#[from] SignError),
    /// A filter value is wrong, the database failed or a file could not be written.
    #[error(transparent)]
    Report(#[from] ReportError),
}

impl From<StoreError> for AuditReviewError {
    fn from(e: StoreError) -> Self {
        AuditReviewError::Report(e.into())
    }
}

/// The audit entries `filter` selects, newest first (at most `filter.limit`).
pub fn list(
    store: &Store,
    user: &AuthUser,
    filter: &AuditFilter,
) -> Result<Vec<AuditEntry>, AuditReviewError> {
    user.require(Permission::ViewAuditTrail)?;
    let filter = normalize_filter(filter).map_err(ReportError::from)?;
    Ok(store.audit_list(&filter)?)
}

/// Walk the hash chains of the audit log and the inspections.
pub fn verify(store: &Store, user: &AuthUser) -> Result<ChainCheck, AuditReviewError> {
    user.require(Permission::ViewAuditTrail)?;
    Ok(audit::verify(store)?)
}

/// Where a signed extract is written (one or both).
#[derive(Clone, Debug, Default)]
pub struct ExportTargets {
    /// The signed PDF.
    pub pdf: Option<PathBuf>,
    /// The rows as CSV.
    pub csv: Option<PathBuf>,
}

/// What [`export_signed`] wrote.
#[derive(Clone, Debug)]
pub struct SignedExport {
    /// The signature (bound to the extract's content hash).
    pub signature: SignatureRow,
    /// Entries in the extract.
    pub entries: usize,
    /// What the verification of the chains found when the extract was taken.
    pub chain: ChainCheck,
    /// Bytes of the PDF, when one was written.
    pub pdf_bytes: Option<u64>,
    /// Rows of the CSV, when one was written.
    pub csv_rows: Option<u64>,
}

/// A file being written: created (0600) under a temporary name before anything is signed,
/// so a folder that does not exist or cannot be written is refused before the signature;
/// renamed into place when written, removed otherwise.
struct PendingFile {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
}

impl PendingFile {
    fn open(store: &Store, path: &Path, ext: &str) -> Result<Self, ReportError> {
        crate::store::guard_output_path(store.path(), path)?;
        let tmp = path.with_extension(format!("{ext}.part"));
        let file = create_private(&tmp).map_err(|e| write_error(path, &e))?;
        Ok(Self {
            path: path.to_path_buf(),
            tmp,
            file: Some(file),
        })
    }

    fn finish(mut self, bytes: &[u8]) -> Result<u64, ReportError> {
        let mut file = self.file.take().expect("written once");
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| write_error(&self.path, &e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(|e| write_error(&self.path, &e))?;
        Ok(bytes.len() as u64)
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if self.file.is_some() || self.tmp.exists() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn write_error(path: &Path, e: &std::io::Error) -> ReportError {
    ReportError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Take the extract `filter` selects (every matching entry, oldest first) with the
/// verification of the chains, have `user` sign it as reviewed (password again, reason), and
/// write it as a signed PDF and/or CSV (0600). Refused before any work when the role may not
/// read the trail or sign its review; an extract with no entry is refused.
pub fn export_signed(
    store: &mut Store,
    user: &AuthUser,
    filter: &AuditFilter,
    to: &ExportTargets,
    input: &SignatureInput,
) -> Result<SignedExport, AuditReviewError> {
    let action = SignedAction::ReviewAuditTrail;
    user.require(Permission::ViewAuditTrail)?;
    user.require(action.permission()).map_err(SignError::from)?;
    if to.pdf.is_none() && to.csv.is_none() {
        return Err(AuditReviewError::NoTarget);
    }
    let extract = AuditExtract::take(store, filter, now_ms())?;
    if extract.entries.is_empty() {
        return Err(AuditReviewError::Empty(describe_filter(&extract.filter)));
    }
    let pdf = to
        .pdf
        .as_deref()
        .map(|p| PendingFile::open(store, p, "pdf"))
        .transpose()?;
    let csv = to
        .csv
        .as_deref()
        .map(|p| PendingFile::open(store, p, "csv"))
        .transpose()?;
    let hash = signing::content_hash(&extract.content());
    let sig = signing::prepare(store, user, action, &extract.record_id(), hash, input)?;
    let signature = store.sign(&sig)?;
    tracing::info!(
        signer = %signature.signer,
        record = %signature.record_id,
        entries = extract.entries.len(),
        "audit extract signed as reviewed"
    );
    let pdf_bytes = match pdf {
        Some(f) => Some(f.finish(&crate::reports::pdf::render_audit_pdf(&extract, &signature))?),
        None => None,
    };
    let csv_rows = match csv {
        Some(f) => {
            let rows = extract.rows();
            let bytes = audit::csv_bytes(&rows).map_err(|e| ReportError::Write {
                path: f.path.clone(),
                reason: e.to_string(),
            })?;
            f.finish(&bytes)?;
            Some(rows.len() as u64)
        }
        None => None,
    };
    Ok(SignedExport {
        signature,
        entries: extract.entries.len(),
        chain: extract.chain,
        pdf_bytes,
        csv_rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;
    use crate::services::auth::testing::{signed, signed_in, station_with};

    #[test]
    fn a_qc_manager_signs_an_extract_others_may_only_read_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = station_with(
            dir.path(),
            &[("qc.anna", Role::QcManager), ("tec.luis", Role::Technician)],
        );
        let qc = signed_in(&mut store, "qc.anna");
        let tech = signed_in(&mut store, "tec.luis");
        let admin = signed_in(&mut store, "admin");
        let all = AuditFilter {
            limit: 1000,
            ..AuditFilter::default()
        };
        let e = list(&store, &tech, &all).unwrap_err();
        assert!(e.to_string().contains("view_audit_trail"), "{e}");
        assert!(!list(&store, &admin, &all).unwrap().is_empty());
        assert!(verify(&store, &admin).unwrap().is_intact());

        let to = ExportTargets {
            pdf: Some(dir.path().join("audit.pdf")),
            csv: Some(dir.path().join("audit.csv")),
        };
        // The admin reads the trail but signs no review of it.
        let e = export_signed(&mut store, &admin, &all, &to, &signed("weekly")).unwrap_err();
        assert!(e.to_string().contains("review_audit_trail"), "{e}");
        assert!(!to.pdf.as_ref().unwrap().exists());
        // A filter nothing matches is refused naming it.
        let nobody = AuditFilter {
            actor: Some("nobody".into()),
            ..all.clone()
        };
        let e = export_signed(&mut store, &qc, &nobody, &to, &signed("x")).unwrap_err();
        assert!(e.to_string().contains("nobody"), "{e}");
        // A folder that does not exist is refused before anything is signed.
        let bad = ExportTargets {
            pdf: Some(dir.path().join("no/such/dir/a.pdf")),
            csv: None,
        };
        let e = export_signed(&mut store, &qc, &all, &bad, &signed("x")).unwrap_err();
        assert!(e.to_string().contains("no/such/dir"), "{e}");
        let signature_entries = |store: &Store| {
            let f = AuditFilter {
                action: Some("signature".into()),
                limit: 100,
                ..AuditFilter::default()
            };
            store.audit_list(&f).unwrap()
        };
        assert!(signature_entries(&store).is_empty());

        let done = export_signed(&mut store, &qc, &all, &to, &signed("weekly review")).unwrap();
        assert_eq!(done.signature.meaning, "reviewed");
        assert_eq!(done.signature.action, "audit.review");
        assert_eq!(done.signature.reason, "weekly review");
        assert_eq!(done.csv_rows, Some(done.entries as u64));
        assert!(done.pdf_bytes.unwrap() > 1000);
        #[cfg(unix)]
        for p in [to.pdf.as_ref().unwrap(), to.csv.as_ref().unwrap()] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
        let csv = std::fs::read_to_string(to.csv.as_ref().unwrap()).unwrap();
        assert_eq!(csv.lines().count(), done.entries + 1);
        // No temporary file is left behind.
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
            .collect();
        assert!(leftovers.is_empty());
        // The signature is on the trail, bound to the extract.
        let sigs = store
            .signatures_for("audit_extract", &done.signature.record_id, None)
            .unwrap();
        assert_eq!(sigs.len(), 1);
        assert_eq!(sigs[0].content_hash, done.signature.content_hash);
        let trail = signature_entries(&store);
        assert_eq!(trail.len(), 1);
        assert_eq!(trail[0].details["action"], "audit.review");
        assert_eq!(trail[0].actor, "qc.anna");
    }
}
