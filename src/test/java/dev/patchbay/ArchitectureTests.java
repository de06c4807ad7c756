package dev.patchbay;

import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

import org.springframework.modulith.core.ApplicationModules;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

class ArchitectureTests {

	/**
	 * Each module's package-info lists the modules it may use: an edge not declared
	 * there, a cycle, or a use of another module's non-public type fails here.
	 */
	@Test
	void modulesDependOnlyOnTheModulesTheyDeclareThroughTheirPublicTypesAndWithoutCycles() {
		ApplicationModules.of(PatchbayApplication.class).verify();
	}

	@Test
	void onlyTheEngineImportsDjl() {
		noClasses().that()
			.resideOutsideOfPackage("dev.patchbay.engine..")
			.should()
			.dependOnClassesThat()
			.resideInAPackage("ai.djl..")
			.allowEmptyShould(true)
			.check(new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
				.importPackages("dev.patchbay"));
	}

	@Test
	void nothingDependsOnTheApi() {
		noClasses().that()
			.resideOutsideOfPackage("dev.patchbay.api..")
			.should()
			.dependOnClassesThat()
			.resideInAPackage("dev.patchbay.api..")
			.check(new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
				.importPackages("dev.patchbay"));
	}

}
