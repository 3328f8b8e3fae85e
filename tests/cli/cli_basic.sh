# The binary's command-line contract: help, version, unknown commands and options.
. tests/lib.sh
expect help $CBAS help
expect_status no-args 2 $CBAS
expect_status unknown-command 2 $CBAS frobnicate
if $CBAS help | grep -q synth; then ok help-lists-synth; else bad help-lists-synth "synth missing from cbas help"; fi
expect version $CBAS version
expect_status unknown-option 2 $CBAS synth --no-such-option
if $CBAS synth --no-such-option 2>&1 | grep -q -- '--no-such-option'; then ok unknown-option-named; else bad unknown-option-named "message does not name the option"; fi
expect_status bad-mem 2 $CBAS synth --mem 12Q --out "$T/x"
