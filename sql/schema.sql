-- lowi-p1 schema (MariaDB 10.11). The plugin runs these statements at every
-- connection, so they must stay idempotent (CREATE ... IF NOT EXISTS).
-- The reference program's columns come first, with its names and order, so
-- `SELECT DtTm, In_D, In_N, OUT_D, OUT_N, Soutire, Injecte FROM Conso` reads
-- like its table; energies are exact DECIMALs (kWh to the Wh) instead of FLOAT.

-- One row per meter and UTC quarter-hour [DtTm, DtTm + 15 min).
-- In_D, In_N, OUT_D, OUT_N: import day/night and export day/night indexes
-- (kWh) at DtTm + 15 min; Soutire, Injecte: kWh imported/exported in the
-- quarter; Gas_m3, Water_m3: consumption in the quarter (m3), NULL when the
-- meter reports none; Estimated: 1 when a boundary of the quarter was
-- interpolated across a reading gap or a counter discontinuity.
CREATE TABLE IF NOT EXISTS Conso (
  DtTm DATETIME NOT NULL,
  In_D DECIMAL(12,3) NOT NULL,
  In_N DECIMAL(12,3) NOT NULL,
  OUT_D DECIMAL(12,3) NOT NULL,
  OUT_N DECIMAL(12,3) NOT NULL,
  Soutire DECIMAL(10,3) NOT NULL,
  Injecte DECIMAL(10,3) NOT NULL,
  Serial VARCHAR(32) NOT NULL,
  Gas_m3 DECIMAL(10,3) NULL,
  Water_m3 DECIMAL(10,3) NULL,
  Estimated BOOLEAN NOT NULL DEFAULT 0,
  PRIMARY KEY (Serial, DtTm),
  KEY Conso_DtTm (DtTm)
) ENGINE=InnoDB;

-- Monthly import peak per meter (Flemish capacity tariff): Mois is the first
-- day of the Belgian (Europe/Brussels) calendar month, DtTm the UTC start of
-- the quarter with the highest average import power, kW = 4 x Soutire of that
-- quarter. Estimated quarters never set a peak.
CREATE TABLE IF NOT EXISTS Pics (
  Mois DATE NOT NULL,
  DtTm DATETIME NOT NULL,
  kW DECIMAL(8,3) NOT NULL,
  Serial VARCHAR(32) NOT NULL,
  PRIMARY KEY (Serial, Mois)
) ENGINE=InnoDB;
