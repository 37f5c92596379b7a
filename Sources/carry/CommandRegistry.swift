// The subcommands of `carry`, in the order `carry --help` lists them.

import ArgumentParser

enum CommandRegistry {
    static let all: [any ParsableCommand.Type] = [
        ImportCommand.self,
        FetchCommand.self,
        ExchangeSimCommand.self,
        AccountCommand.self,
        BacktestCommand.self,
        SweepCommand.self,
        ValidateCommand.self,
        CompareCommand.self,
        AnalyzeCommand.self,
        RunCommand.self,
        ParityCommand.self,
        DashboardCommand.self,
        AlertsCommand.self,
        KillCommand.self,
        TradeCommand.self,
        ReportCommand.self,
        SimulateCommand.self,
        GapsCommand.self,
        SeriesCommand.self,
        DebugAppendCommand.self,
    ]
}
