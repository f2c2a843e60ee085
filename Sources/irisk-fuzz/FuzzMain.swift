#if canImport(Glibc)
import Glibc
#endif

/// `irisk-fuzz`: a libFuzzer target (see ``FuzzTarget``).
///
/// Built normally (`swift build`) it only writes the seed corpus
/// (`--write-corpus DIR`) or explains how to fuzz and exits 2. Built by
/// `dev/fuzz.sh` (`-DIRISK_FUZZ -sanitize=fuzzer,address`) it hands its
/// arguments to libFuzzer's driver.
@main
struct FuzzMain {
    static func main() {
        let arguments = CommandLine.arguments
        if arguments.count == 3, arguments[1] == "--write-corpus" {
            do {
                let count = try SeedCorpus.write(to: arguments[2])
                print("wrote \(count) seed inputs to \(arguments[2])")
                exit(0)
            } catch {
                printToStandardError("irisk-fuzz: \(error)\n")
                exit(1)
            }
        }
        #if IRISK_FUZZ
        exit(runLibFuzzer())
        #else
        printToStandardError("""
            irisk-fuzz: this build has no fuzzer linked in.
            Run the fuzzer with dev/fuzz.sh [SECONDS] (builds with -sanitize=fuzzer,address into .build-fuzz).
            Write the seed corpus with: swift run irisk-fuzz --write-corpus Fuzz/corpus

            """)
        exit(2)
        #endif
    }

    static func printToStandardError(_ text: String) {
        var text = text
        text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}

#if IRISK_FUZZ
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzTarget.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

func runLibFuzzer() -> Int32 {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzTestOneInput(data, size) }
}
#endif
