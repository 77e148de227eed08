use super::*;

const ADMIN_PW: &str = "Andes-2026-Rosa";
const ANNA_PW: &str = "Quinua-y-Maca-7";

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("foodqc.sqlite")).unwrap();
    (dir, store)
}

fn account(name: &str, role: Role) -> NewAccount<'_> {
    NewAccount {
        name,
        display_name: None,
        role,
        service: false,
    }
}

/// A station with its first admin and a QC manager `qc.anna`; returns the signed-in admin.
fn station() -> (tempfile::TempDir, Store, AuthUser) {
    let (dir, mut store) = store();
    create_user(&mut store, None, &account("admin", Role::Admin), ADMIN_PW).unwrap();
    let admin = authenticate(&mut store, "admin", ADMIN_PW).unwrap();
    create_user(
        &mut store,
        Some(&admin),
        &account("qc.anna", Role::QcManager),
        ANNA_PW,
    )
    .unwrap();
    (dir, store, admin)
}

fn actions(store: &Store) -> Vec<(String, String)> {
    let mut v: Vec<_> = store
        .audit_entries(100)
        .unwrap()
        .into_iter()
        .map(|e| (e.actor, e.action))
        .collect();
    v.reverse();
    v
}

#[test]
fn hashes_are_argon2id_salted_and_verify() {
    let a = hash_password("x", ANNA_PW).unwrap();
    let b = hash_password("x", ANNA_PW).unwrap();
    assert!(a.starts_with("$argon2id$v=19$"), "{a}");
    assert_ne!(a, b, "a fresh salt each time");
    assert!(verify_password("x", ANNA_PW, &a).unwrap());
    assert!(!verify_password("x", "Quinua-y-Maca-8", &a).unwrap());
    assert!(verify_password("x", ANNA_PW, "$argon2id$garbage").is_err());
}

#[test]
fn the_password_policy() {
    fn problem(user: &str, pw: &str) -> Option<PasswordProblem> {
        match check_password_policy(user, pw) {
            Err(AuthError::WeakPassword { problem, .. }) => Some(problem),
            Ok(()) => None,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(problem("anna", "Short-1"), Some(PasswordProblem::TooShort));
    assert_eq!(
        problem("anna", "xx-Anna-2026"),
        Some(PasswordProblem::ContainsName)
    );
    assert_eq!(
        problem("anna", "abcdefghijkl"),
        Some(PasswordProblem::OneClass)
    );
    assert_eq!(
        problem("anna", "123456789012"),
        Some(PasswordProblem::OneClass)
    );
    assert_eq!(
        problem("anna", &"aB".repeat(200)),
        Some(PasswordProblem::TooLong)
    );
    assert_eq!(problem("anna", "paltas y limas"), None);
    assert_eq!(problem("anna", "Quinua-y-Maca-7"), None);
    // The message names the user and the rule.
    let msg = check_password_policy("anna", "short")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("anna") && msg.contains("10"), "{msg}");
}

#[test]
fn the_first_user_must_be_an_admin_and_later_ones_need_an_admin() {
    let (_dir, mut store) = store();
    let err = create_user(&mut store, None, &account("ana", Role::QcManager), ANNA_PW);
    assert!(
        matches!(err, Err(AuthError::FirstUserNotAdmin(_))),
        "{err:?}"
    );
    create_user(&mut store, None, &account("admin", Role::Admin), ADMIN_PW).unwrap();
    let err = create_user(&mut store, None, &account("ana", Role::QcManager), ANNA_PW);
    assert!(matches!(err, Err(AuthError::SignInNeeded)), "{err:?}");

    let admin = authenticate(&mut store, "admin", ADMIN_PW).unwrap();
    create_user(
        &mut store,
        Some(&admin),
        &account("ana", Role::QcManager),
        ANNA_PW,
    )
    .unwrap();
    let ana = authenticate(&mut store, "ana", ANNA_PW).unwrap();
    let err = create_user(
        &mut store,
        Some(&ana),
        &account("bob", Role::Operator),
        ANNA_PW,
    );
    match err {
        Err(AuthError::Denied(d)) => assert_eq!(d.allowed(), vec![Role::Admin]),
        other => panic!("{other:?}"),
    }
    let service = NewAccount {
        service: true,
        ..account("line-1", Role::Admin)
    };
    assert!(matches!(
        create_user(&mut store, Some(&admin), &service, ANNA_PW),
        Err(AuthError::ServiceAdmin(_))
    ));
    let err = create_user(
        &mut store,
        Some(&admin),
        &account("Bad Name", Role::Operator),
        ANNA_PW,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("Bad Name"), "{err}");
    assert_eq!(
        actions(&store),
        [
            ("admin", "user.create"),
            ("admin", "auth.login"),
            ("admin", "user.create"),
            ("ana", "auth.login"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
}

#[test]
fn five_wrong_passwords_lock_for_15_minutes_and_are_audited() {
    let (_dir, mut store, _admin) = station();
    let t0 = 1_800_000_000_000;
    for i in 0..4 {
        let err = authenticate_at(&mut store, "qc.anna", "wrong-Password-1", t0 + i).unwrap_err();
        assert!(matches!(err, AuthError::BadCredentials(_)), "{err:?}");
    }
    let err = authenticate_at(&mut store, "qc.anna", "wrong-Password-1", t0 + 5).unwrap_err();
    assert!(
        matches!(err, AuthError::Locked { minutes: 15, .. }),
        "{err:?}"
    );
    // Locked: even the right password is refused until the lock ends.
    let err = authenticate_at(&mut store, "qc.anna", ANNA_PW, t0 + 5 + 60_000).unwrap_err();
    assert!(
        matches!(err, AuthError::Locked { minutes: 14, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("qc.anna"), "{err}");
    let later = t0 + 5 + 15 * 60_000;
    let anna = authenticate_at(&mut store, "qc.anna", ANNA_PW, later).unwrap();
    assert_eq!(anna.role, Role::QcManager);

    let audit = store.audit_entries(100).unwrap();
    let failures = audit.iter().filter(|e| e.action == "auth.failure").count();
    let lockouts: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "auth.lockout")
        .collect();
    assert_eq!(failures, 6, "5 wrong passwords and 1 while locked");
    assert_eq!(lockouts.len(), 1);
    assert_eq!(lockouts[0].actor, "qc.anna");
    assert_eq!(lockouts[0].details["attempts"], 5);
    assert_eq!(audit[0].action, "auth.login");
}

#[test]
fn unknown_and_disabled_users_are_refused_and_audited() {
    let (_dir, mut store, admin) = station();
    let err = authenticate(&mut store, "nobody", ANNA_PW).unwrap_err();
    assert!(matches!(err, AuthError::BadCredentials(_)), "{err:?}");
    disable_user(&mut store, &admin, "qc.anna").unwrap();
    let err = authenticate(&mut store, "qc.anna", ANNA_PW).unwrap_err();
    assert!(matches!(err, AuthError::Disabled(_)), "{err:?}");
    assert!(matches!(
        disable_user(&mut store, &admin, "admin"),
        Err(AuthError::DisableSelf(_))
    ));
    assert!(matches!(
        disable_user(&mut store, &admin, "ghost"),
        Err(AuthError::NoSuchUser(_))
    ));
    let tail: Vec<_> = actions(&store).into_iter().rev().take(3).collect();
    assert_eq!(
        tail,
        [
            ("qc.anna", "auth.failure"),
            ("admin", "user.disable"),
            ("nobody", "auth.failure"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
}

#[test]
fn password_changes_need_the_user_or_an_admin() {
    let (_dir, mut store, admin) = station();
    let anna = authenticate(&mut store, "qc.anna", ANNA_PW).unwrap();
    change_password(&mut store, &anna, "qc.anna", "Chicha-Morada-9").unwrap();
    assert!(matches!(
        change_password(&mut store, &anna, "admin", "Chicha-Morada-9"),
        Err(AuthError::Denied(_))
    ));
    change_password(&mut store, &admin, "qc.anna", "Causa-Limena-3").unwrap();
    assert!(authenticate(&mut store, "qc.anna", "Chicha-Morada-9").is_err());
    authenticate(&mut store, "qc.anna", "Causa-Limena-3").unwrap();
    let passwd: Vec<_> = store
        .audit_entries(100)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "user.passwd")
        .map(|e| e.actor)
        .collect();
    assert_eq!(passwd, ["admin", "qc.anna"]);
}

#[test]
fn permission_errors_name_the_roles_that_may() {
    let tech = AuthUser {
        id: 1,
        name: "tec.luis".into(),
        display_name: "Luis Rojas".into(),
        role: Role::Technician,
    };
    assert!(tech.require(Permission::Label).is_ok());
    let err = tech.require(Permission::ApproveModel).unwrap_err();
    assert_eq!(err.allowed(), vec![Role::QcManager]);
    let msg = err.to_string();
    assert!(
        msg.contains("tec.luis") && msg.contains("qc_manager"),
        "{msg}"
    );
    let admin = AuthUser {
        role: Role::Admin,
        ..tech
    };
    assert!(admin.require(Permission::SignQcRecord).is_err());
}

#[test]
fn idle_lock_after_the_timeout() {
    let t0 = Instant::now();
    let mut lock = IdleLock::default();
    assert_eq!(lock.timeout(), Duration::from_secs(900));
    assert!(lock.is_locked(t0), "nobody active yet");
    lock.touch(t0);
    assert!(!lock.is_locked(t0 + Duration::from_secs(899)));
    assert!(lock.is_locked(t0 + Duration::from_secs(900)));
    lock.touch(t0 + Duration::from_secs(600));
    assert!(!lock.is_locked(t0 + Duration::from_secs(1400)));
    // An older instant does not move the activity back.
    lock.touch(t0);
    assert!(!lock.is_locked(t0 + Duration::from_secs(1400)));
    let mut off = IdleLock::new(Duration::ZERO);
    off.touch(t0);
    assert!(!off.is_locked(t0 + Duration::from_secs(86_400)));
}

#[test]
fn secrets_from_a_file_lose_the_line_end() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("pw");
    std::fs::write(&f, "Andes-2026-Rosa\r\n").unwrap();
    assert_eq!(password_from_file(&f).unwrap(), "Andes-2026-Rosa");
    let err = password_from_file(&dir.path().join("none"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("none"), "{err}");
}
