from d2lab.report.write import main

main()
