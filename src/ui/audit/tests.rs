//! The Audit tab driven like a user: what a technician may not do, a QC manager filtering,
//! verifying the chain and signing an export (the save dialog's answer is given to the tab
//! as the worker would).

use std::sync::Arc;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use foodqc::capture::SourceSpec;
use foodqc::domain::{AppPaths, Role};
use foodqc::model::AnomalyModel;
use foodqc::services::desk::{Event, Status};
use foodqc::store::{AuditFilter, Store};
use serde_json::json;

use crate::ui::tests::{add_user, english, sign, sign_in_as, step_until};
use crate::ui::{FoodQcApp, Tab};

fn disabled(h: &Harness<'_, FoodQcApp>, label: &str) -> bool {
    h.get_by_label(label).accesskit_node().is_disabled()
}

#[test]
fn a_technician_cannot_export_and_a_qc_manager_filters_verifies_and_signs() {
    let dir = tempfile::tempdir().unwrap();
    let paths = AppPaths {
        data_dir: dir.path().to_path_buf(),
    };
    add_user(dir.path(), "qc.anna", Role::QcManager);
    add_user(dir.path(), "tec.luis", Role::Technician);
    {
        let mut store = Store::open(&paths.db_path()).unwrap();
        let hold = json!({"code": "L42", "from": "open", "to": "hold", "comment": "mould"});
        store.audit("qc.anna", "lot.status", hold).unwrap();
        store
            .audit(
                "tec.luis",
                "label.add",
                json!({"sample_id": 1, "label": "crack"}),
            )
            .unwrap();
    }
    let model = Arc::new(AnomalyModel::bundled().unwrap());
    let p2 = paths.clone();
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 860.0))
        .build_eframe(move |cc| {
            english(FoodQcApp::new(
                cc,
                p2,
                model,
                Some(SourceSpec::Synthetic { seed: 3 }),
            ))
        });

    // A technician sees the tab (F6) with everything disabled and no entry listed.
    sign_in_as(&mut h, dir.path(), "tec.luis", Role::Technician);
    h.key_press(egui::Key::F6);
    h.step();
    h.step();
    assert_eq!(h.state().settings.tab, Tab::Audit);
    assert!(disabled(&h, "Export signed PDF…"));
    assert!(disabled(&h, "Verify chain"));
    assert!(disabled(&h, "Apply"));
    h.get_by_label_contains("Roles that may: qc_manager, admin");
    assert!(h.state().audit.rows.is_empty());

    // A QC manager: the trail loads, filters by user and by action, verifies.
    sign_in_as(&mut h, dir.path(), "qc.anna", Role::QcManager);
    step_until(&mut h, "the audit list", |app| !app.audit.rows.is_empty());
    h.step();
    assert!(!disabled(&h, "Export signed PDF…"));
    h.state_mut().audit.actor = "tec.luis".into();
    h.step();
    h.get_by_label("Apply").click();
    step_until(&mut h, "entries of tec.luis", |app| {
        app.audit
            .shown
            .as_ref()
            .is_some_and(|f| f.actor.as_deref() == Some("tec.luis"))
    });
    let rows = h.state().audit.rows.clone();
    assert!(rows.iter().all(|r| r.actor == "tec.luis"), "{rows:?}");
    assert!(rows.iter().any(|r| r.action == "label.add"));

    h.state_mut().audit.actor.clear();
    h.state_mut().audit.action = "lot".into();
    h.step();
    h.get_by_label("Apply").click();
    step_until(&mut h, "lot entries", |app| {
        app.audit
            .shown
            .as_ref()
            .is_some_and(|f| f.action.as_deref() == Some("lot"))
    });
    let rows = h.state().audit.rows.clone();
    assert_eq!(rows.len(), 1, "{rows:?}");
    h.step();
    h.get_by_label("lot L42");
    h.get_by_label_contains("before: open · after: hold");

    // A time that does not parse is named, and nothing is asked.
    h.state_mut().audit.from_text = "yesterday".into();
    h.step();
    h.get_by_label("Apply").click();
    h.step();
    assert!(
        matches!(&h.state().audit.status, Status::Failed(m) if m.contains("yesterday")),
        "{:?}",
        h.state().audit.status
    );
    h.state_mut().audit.from_text.clear();

    h.get_by_label("Verify chain").click();
    step_until(&mut h, "the chain verified", |app| {
        app.audit.chain.is_some()
    });
    assert!(h.state().audit.chain.as_ref().unwrap().is_intact());
    h.step();
    h.get_by_label_contains("audit trail intact");

    // The file is chosen (as the dialog would answer): the signature window opens; signed,
    // the PDF is written and the signature is on the trail.
    let pdf = dir.path().join("exports").join("audit.pdf");
    h.state_mut()
        .audit
        .on_event(Event::AuditExportPath(pdf.clone()));
    h.step();
    assert!(h.state().session.signing());
    sign(&mut h, "weekly review");
    step_until(&mut h, "the signed PDF", |app| {
        matches!(app.audit.status, Status::Done(_))
    });
    assert!(std::fs::metadata(&pdf).unwrap().len() > 1000);
    let store = Store::open(&paths.db_path()).unwrap();
    let sigs = store
        .audit_list(&AuditFilter {
            action: Some("signature".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .unwrap();
    assert_eq!(sigs[0].details["action"], "audit.review");
    assert_eq!(sigs[0].details["reason"], "weekly review");
    assert_eq!(sigs[0].actor, "qc.anna");
}
