use super::*;

fn clean(base: &str, ours: &str, theirs: &str, syntax: Syntax) -> String {
    match merge(base, ours, theirs, syntax).expect("mergeable") {
        Merged::Clean(t) => t.to_string(),
        Merged::Conflict(t) => panic!("unexpected conflict:\n{}", &*t),
    }
}

fn conflict(base: &str, ours: &str, theirs: &str, syntax: Syntax) -> String {
    match merge(base, ours, theirs, syntax).expect("mergeable") {
        Merged::Clean(t) => panic!("unexpected clean merge:\n{}", &*t),
        Merged::Conflict(t) => t.to_string(),
    }
}

const Y: &str = "db:\n  user: admin # owner\n  password: p1\nport: 5432\n";

#[test]
fn adjacent_values_merge() {
    let o = Y.replace("admin", "root");
    let t = Y.replace("p1", "p2");
    assert_eq!(
        clean(Y, &o, &t, Syntax::Yaml),
        "db:\n  user: root # owner\n  password: p2\nport: 5432\n"
    );
}

#[test]
fn additions_and_removals_of_different_keys_merge_in_place() {
    let o = "db:\n  user: admin # owner\n  password: p1\n  host: h\nport: 5432\n";
    let t = "db:\n  user: admin # owner\n  name: n\n  password: p1\n";
    assert_eq!(
        clean(Y, o, t, Syntax::Yaml),
        "db:\n  user: admin # owner\n  name: n\n  password: p1\n  host: h\n"
    );
}

#[test]
fn same_value_changed_differently_marks_just_that_entry() {
    let o = Y.replace("p1", "ours-pass").replace("5432", "1");
    let t = Y.replace("p1", "their-pass").replace("admin", "root");
    assert_eq!(
        conflict(Y, &o, &t, Syntax::Yaml),
        "db:\n  user: root # owner\n<<<<<<< ours\n  password: ours-pass\n=======\n  password: their-pass\n>>>>>>> theirs\nport: 1\n"
    );
}

#[test]
fn change_against_removal_conflicts() {
    let o = "db:\n  user: admin # owner\nport: 5432\n";
    let t = Y.replace("p1", "p2");
    assert_eq!(
        conflict(Y, o, &t, Syntax::Yaml),
        "db:\n  user: admin # owner\n<<<<<<< ours\n=======\n  password: p2\n>>>>>>> theirs\nport: 5432\n"
    );
}

#[test]
fn lists_are_one_value() {
    let b = "l:\n  - a\n  - b\nk: v\n";
    let o = "l:\n  - a\n  - b\n  - c\nk: v\n";
    let t = "l:\n  - z\n  - a\n  - b\nk: w\n";
    let out = conflict(b, o, t, Syntax::Yaml);
    assert!(out.starts_with("<<<<<<< ours\nl:\n  - a\n"), "{out}");
    assert!(out.ends_with(">>>>>>> theirs\nk: w\n"), "{out}");
    // The same change on both sides is no conflict; a change on one side is taken.
    assert_eq!(clean(b, o, o, Syntax::Yaml), o);
    assert_eq!(
        clean(b, "l:\n  - a\n  - b\nk: w\n", o, Syntax::Yaml),
        "l:\n  - a\n  - b\n  - c\nk: w\n"
    );
}

#[test]
fn json_and_dotenv() {
    let b = "{\n  \"user\": \"admin\",\n  \"password\": \"p1\"\n}\n";
    let o = b.replace("admin", "root");
    let t = b.replace("p1", "p2");
    assert_eq!(
        clean(b, &o, &t, Syntax::Json),
        "{\n  \"user\": \"root\",\n  \"password\": \"p2\"\n}\n"
    );
    let t2 = "{\n  \"user\": \"admin\",\n  \"password\": \"p1\",\n  \"host\": \"h\"\n}\n";
    assert_eq!(
        clean(b, &o, t2, Syntax::Json),
        "{\n  \"user\": \"root\",\n  \"password\": \"p1\",\n  \"host\": \"h\"\n}\n"
    );
    let e = "# c\nUSER=admin\nPASSWORD=p1\n";
    assert_eq!(
        clean(
            e,
            &e.replace("admin", "root"),
            &e.replace("p1", "p2"),
            Syntax::Dotenv
        ),
        "# c\nUSER=root\nPASSWORD=p2\n"
    );
    assert_eq!(
        conflict(
            e,
            &e.replace("p1", "a"),
            &e.replace("p1", "b"),
            Syntax::Dotenv
        ),
        "# c\nUSER=admin\n<<<<<<< ours\nPASSWORD=a\n=======\nPASSWORD=b\n>>>>>>> theirs\n"
    );
    assert_eq!(
        clean(
            e,
            "# c\nUSER=admin\nPASSWORD=p1\nNEW=1\n",
            "# c\nPASSWORD=p1\n",
            Syntax::Dotenv
        ),
        "# c\nPASSWORD=p1\nNEW=1\n"
    );
}
