import GRDB
import IdentityRiskCore

/// Translates a ``ListQuery`` into one parameterised SELECT whose result is,
/// row for row, what `MemoryEventStore.list` returns.
///
/// - The filter becomes a WHERE clause with `?` placeholders; values are only
///   ever bound, never written into the SQL text.
/// - Semantics follow ``FilterComparison/matches(_:)``:
///   - strings compare by UTF-8 bytes (SQLite's BINARY collation);
///   - date-times compare by ``DateTimeOffset/instantTicks``;
///   - enums compare by ``RiskLevel/wireNumber`` / ``RiskEventStatus/wireNumber``
///     (never Swift declaration order): the comparison becomes
///     `column IN (every member whose wire number satisfies it)` (or `0` when none does);
///   - on a nullable property, a non-null literal never matches NULL except with
///     `ne`; `eq null` is `IS NULL`, any other operator with `null` is `IS NOT NULL`;
///   - a property compared with a literal of the wrong kind matches nothing.
/// - A property's column is its ``SQLiteColumnLayout/comparisonColumn``, the
///   same mapping the table, the insert and the decoder use.
/// - Keyset pagination is ``ListCursor/precedes(_:in:)``: ascending
///   `key > k OR (key = k AND id > i)`, descending `key < k OR (key = k AND id > i)`,
///   written as `key >= k AND (key > k OR id > i)` so that SQLite uses the index
///   range; ORDER BY key ASC|DESC, id ASC; LIMIT top + 1 reveals a next page.
struct SQLiteListStatement: Sendable {
    var sql: String
    var arguments: [DatabaseValue]
    /// Without a filter the SQL text takes one of a few shapes, worth caching.
    var isCacheable: Bool

    /// SQLite refuses expressions deeper than 1000 (SQLITE_MAX_EXPR_DEPTH); the
    /// generated SQL adds a few levels around the filter.
    static let maxFilterDepth = 400
    /// Far below SQLite's 32766 bound parameters.
    static let maxFilterComparisons = 10_000

    init(_ query: ListQuery) throws(IdentityRiskError) {
        guard query.top >= 1, query.top <= ListQuery.maxTop else {
            throw IdentityRiskError.invalid([FieldViolation(
                field: "top", description: "is \(query.top); allowed: 1 ... \(ListQuery.maxTop)")])
        }
        var arguments: [DatabaseValue] = []
        var conditions: [String] = []
        if let filter = query.filter {
            try Self.checkSize(filter)
            conditions.append(Self.sql(filter, &arguments))
        }
        let key = Self.keyColumn(query.order)
        if let after = query.after {
            let (inclusive, strict) = query.order.isDescending ? ("<=", "<") : (">=", ">")
            conditions.append("\(key) \(inclusive) ? AND (\(key) \(strict) ? OR id > ?)")
            arguments.append(after.sortKey.databaseValue)
            arguments.append(after.sortKey.databaseValue)
            arguments.append(after.id.databaseValue)
        }
        var sql = "SELECT \(SQLiteSchema.selectColumns) FROM \(SQLiteSchema.table)"
        if !conditions.isEmpty {
            sql += " WHERE " + conditions.map { "(\($0))" }.joined(separator: " AND ")
        }
        sql += " ORDER BY \(key) \(query.order.isDescending ? "DESC" : "ASC"), id ASC LIMIT ?"
        arguments.append(Int64(query.top + 1).databaseValue)
        self.sql = sql
        self.arguments = arguments
        self.isCacheable = query.filter == nil
    }

    static func keyColumn(_ order: ListOrder) -> String {
        switch order {
        case .createdAscending, .createdDescending: SQLiteColumnLayout(.createdDateTime).comparisonColumn
        case .riskEventAscending, .riskEventDescending: SQLiteColumnLayout(.riskEventDateTime).comparisonColumn
        }
    }

    /// Rejects trees SQLite would refuse, without recursing (a degenerate tree
    /// must not overflow the stack before we can say no).
    private static func checkSize(_ filter: FilterExpression) throws(IdentityRiskError) {
        var stack: [(FilterExpression, Int)] = [(filter, 1)]
        var comparisons = 0
        while let (node, depth) = stack.popLast() {
            guard depth <= maxFilterDepth else {
                throw tooComplex("nests deeper than \(maxFilterDepth) levels")
            }
            switch node {
            case .comparison:
                comparisons += 1
                guard comparisons <= maxFilterComparisons else {
                    throw tooComplex("has more than \(maxFilterComparisons) comparisons")
                }
            case .and(let l, let r), .or(let l, let r):
                stack.append((l, depth + 1))
                stack.append((r, depth + 1))
            }
        }
    }

    private static func tooComplex(_ why: String) -> IdentityRiskError {
        IdentityRiskError.invalid([FieldViolation(field: "filter", description: "\(why); simplify the filter")])
    }

    private static func sql(_ filter: FilterExpression, _ arguments: inout [DatabaseValue]) -> String {
        switch filter {
        case .comparison(let c): comparison(c, &arguments)
        case .and(let l, let r): "(\(sql(l, &arguments))) AND (\(sql(r, &arguments)))"
        case .or(let l, let r): "(\(sql(l, &arguments))) OR (\(sql(r, &arguments)))"
        }
    }

    private static func comparison(_ c: FilterComparison, _ arguments: inout [DatabaseValue]) -> String {
        let column = SQLiteColumnLayout(c.property).comparisonColumn
        let condition: String
        switch (c.property.kind, c.value) {
        case (_, .null):
            return c.op == .eq ? "\(column) IS NULL" : "\(column) IS NOT NULL"
        case (.text, .string(let s)):
            arguments.append(s.databaseValue)
            condition = "\(column) \(symbol(c.op)) ?"
        case (.dateTime, .dateTime(let d)):
            arguments.append(d.instantTicks.databaseValue)
            condition = "\(column) \(symbol(c.op)) ?"
        case (.riskLevel, .riskLevel(let level)):
            condition = member(column, level, \.wireNumber, c.op, &arguments)
        case (.riskEventStatus, .riskEventStatus(let status)):
            condition = member(column, status, \.wireNumber, c.op, &arguments)
        case (.text, _), (.dateTime, _), (.riskLevel, _), (.riskEventStatus, _):
            return "0"  // a literal of another kind matches nothing
        }
        // An absent value matches `ne` any value (and no other operator), as
        // NULL in SQL matches nothing.
        return c.property.isNullable && c.op == .ne ? "\(column) IS NULL OR \(condition)" : condition
    }

    /// An enum comparison by wire number, as the list of members it admits.
    private static func member<E: CaseIterable & RawRepresentable>(
        _ column: String, _ literal: E, _ rank: (E) -> UInt32, _ op: FilterOperator, _ arguments: inout [DatabaseValue]
    ) -> String where E.RawValue == String {
        let admitted = E.allCases.filter { holds(op, rank($0), rank(literal)) }.map(\.rawValue)
        guard !admitted.isEmpty else { return "0" }
        arguments.append(contentsOf: admitted.map(\.databaseValue))
        return "\(column) IN (\(Array(repeating: "?", count: admitted.count).joined(separator: ", ")))"
    }

    private static func holds(_ op: FilterOperator, _ lhs: UInt32, _ rhs: UInt32) -> Bool {
        switch op {
        case .eq: lhs == rhs
        case .ne: lhs != rhs
        case .gt: lhs > rhs
        case .ge: lhs >= rhs
        case .lt: lhs < rhs
        case .le: lhs <= rhs
        }
    }

    private static func symbol(_ op: FilterOperator) -> String {
        switch op {
        case .eq: "="
        case .ne: "<>"
        case .gt: ">"
        case .ge: ">="
        case .lt: "<"
        case .le: "<="
        }
    }
}
