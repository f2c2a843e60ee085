import ArgumentParser
import Foundation

/// `irisk creat` → "did you mean 'create'?". swift-argument-parser reports an
/// unknown subcommand as an unexpected argument and suggests nothing, so the
/// first argument is checked here, before it parses.
enum CommandSuggestion {
    /// The error text for a first argument that names no subcommand, or `nil`
    /// when it is one (or a flag, or there is none).
    static func unknownCommand(in arguments: [String], commands: [String]) -> String? {
        guard let word = arguments.first, !word.hasPrefix("-"), !commands.contains(word), word != "help" else { return nil }
        let scored = commands.map { ($0, distance(word.lowercased(), $0)) }.sorted { $0.1 < $1.1 }
        var text = "irisk: '\(word)' is not an irisk command."
        if let best = scored.first, best.1 <= max(2, word.count / 3) || best.0.hasPrefix(word.lowercased()) {
            text += " Did you mean '\(best.0)'?"
        }
        return text + "\nCommands: \(commands.joined(separator: ", ")) (irisk --help)"
    }

    /// Levenshtein distance between two short words.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + [Int](repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

/// `irisk completion bash|zsh|fish`: the shell completion script.
struct Completion: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a shell completion script: bash, zsh or fish.",
        discussion: """
            bash: irisk completion bash > /etc/bash_completion.d/irisk (or source <(irisk completion bash)); \
            zsh: irisk completion zsh > "${fpath[1]}/_irisk"; fish: irisk completion fish > \
            ~/.config/fish/completions/irisk.fish. Subcommands, flags and the values of enum flags \
            (risk levels, statuses, orders, output formats) complete.
            """
    )

    @Argument(help: ArgumentHelp("bash, zsh or fish.", valueName: "shell"), completion: .list(["bash", "zsh", "fish"]))
    var shell: String

    func validate() throws {
        guard CompletionShell(rawValue: shell) != nil else {
            throw ValidationError("'\(shell)' is not a shell irisk completes; allowed: bash, zsh, fish")
        }
    }

    func run() throws {
        print(Irisk.completionScript(for: CompletionShell(rawValue: shell)!))
    }
}
