# The guest's read-only Nix store as an erofs image labelled `nix-store`, built on the host
# (the Mac) from the closure of the guest system plus its registration info. This is what
# qemu-vm.nix's runner makes in $TMPDIR on every start (useNixStoreImage); here it is a
# derivation, so it is made once and reused.
{
  runCommand,
  closureInfo,
  gnutar,
  erofs-utils,
  toplevel,
  regInfo,
}:
let
  closure = closureInfo {
    rootPaths = [
      toplevel
      regInfo
    ];
  };
in
runCommand "builderbar-store-image"
  {
    nativeBuildInputs = [
      gnutar
      erofs-utils
    ];
    passthru = { inherit closure; };
  }
  ''
    # Store paths become top-level entries of the image (it is mounted at /nix/.ro-store);
    # names that Nix on a case-insensitive macOS volume suffixed get their real name back.
    # Symlink targets stay as they are (S); a fixed UUID and -T 0 keep the image reproducible.
    tar --create --absolute-names --verbatim-files-from \
      --transform 'flags=rSh;s|^/nix/store/||' \
      --transform 'flags=rSh;s|~nix~case~hack~[0-9]\+||g' \
      --files-from ${closure}/store-paths \
      | mkfs.erofs --quiet --force-uid=0 --force-gid=0 -L nix-store -T 0 \
          -U 6b1d3e0a-4c2f-4d8e-9a57-0c3b8f1e2d47 --tar=f "$out"
  ''
