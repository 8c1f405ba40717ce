//! SOPS's codec: value tokens, the MAC and the metadata block.
