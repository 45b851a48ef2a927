#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    yibao_server::fuzz::ec_code(data);
});
