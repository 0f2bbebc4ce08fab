# flake.lock against flake.nix, with Nix alone (no nixpkgs, no network): nixpkgs is the one
# input, locked to a revision of exactly the branch flake.nix follows, and that branch is a
# nixpkgs darwin release branch that is supported (docs/flake.md, "Moving the pin").
#   nix-instantiate --eval --strict tests/nix/eval-lock.nix
let
  # The oldest nixpkgs release still supported. 26.05 is supported until 2026-12-31; raise
  # this when it is not, and move the pin with it.
  oldestSupported = "26.05";

  lock = builtins.fromJSON (builtins.readFile ../../flake.lock);
  flake = import ../../flake.nix;
  rootInputs = lock.nodes.${lock.root}.inputs;
  node = lock.nodes.${rootInputs.nixpkgs};
  inherit (node) locked original;
  branch = original.ref;
  release = builtins.match "nixpkgs-([0-9][0-9]\\.(05|11))-darwin" branch;

  check = cond: msg: if cond then true else throw "eval-lock: ${msg}";
in
assert check (lock.version == 7) "flake.lock version ${toString lock.version}, expected 7";
assert check (
  builtins.attrNames flake.inputs == [ "nixpkgs" ] && builtins.attrNames rootInputs == [ "nixpkgs" ]
) "the flake's inputs are not exactly nixpkgs";
assert check (
  flake.inputs.nixpkgs.url == "github:NixOS/nixpkgs/${branch}"
) "flake.nix follows ${flake.inputs.nixpkgs.url}, but flake.lock was locked from ${branch}";
assert check (release != null) "${branch} is not a nixpkgs-YY.MM-darwin release branch";
assert check (
  builtins.compareVersions (builtins.head release) oldestSupported >= 0
) "${branch} is older than ${oldestSupported}, the oldest supported release";
assert check (
  locked.type == "github" && locked.owner == "NixOS" && locked.repo == "nixpkgs"
) "nixpkgs is not locked to github:NixOS/nixpkgs";
assert check (
  builtins.match "[0-9a-f]{40}" locked.rev != null
) "the locked rev ${locked.rev} is not a commit hash";
assert check (
  builtins.match "sha256-[A-Za-z0-9+/]{43}=" locked.narHash != null
) "the locked narHash is not an SRI sha256";
assert check (builtins.isInt locked.lastModified) "lastModified is missing";
{
  inherit branch;
  inherit (locked) rev lastModified;
}
