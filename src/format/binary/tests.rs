use super::*;
use crate::format::Format;
use crate::format::json::Json;

#[test]
fn wrap_then_unwrap_gives_the_file_back() {
    for content in ["\"\"{}this_is_binary_data", "", "a\nb\r\n\t\u{1}é\\"] {
        let doc = wrap(content);
        let tree = Json.load_tree(&doc).unwrap();
        assert_eq!(&*unwrap(&tree).unwrap(), content);
    }
    assert_eq!(&*wrap("x"), "{\n\t\"data\": \"x\"\n}\n");
}

#[test]
fn a_tree_without_data_is_refused() {
    let tree = Json.load_tree("{\"other\": \"x\"}").unwrap();
    assert!(unwrap(&tree).is_err());
}
