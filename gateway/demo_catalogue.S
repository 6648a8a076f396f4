/* demo_catalogue.S -- the demo catalogue, embedded in the programs so that
 * `recgatectl init --demo` needs no file beside it. */
	.section .rodata
	.global rg_demo_catalogue_json
	.global rg_demo_catalogue_json_end
	.balign 16
rg_demo_catalogue_json:
	.incbin "policy/demo-catalogue.json"
rg_demo_catalogue_json_end:
	.byte 0
	.section .note.GNU-stack,"",@progbits
